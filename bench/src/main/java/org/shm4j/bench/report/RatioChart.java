package org.shm4j.bench.report;

import java.util.List;
import java.util.Locale;

/**
 * Draws ratios as an SVG bar chart on a log scale: one bar per line, an error whisker, a line at 1 (parity) and a
 * tick at the target where there is one. Bars at or above their target are green, below it orange, without one
 * grey.
 */
final class RatioChart {
    /** One bar. */
    record Bar(String label, Score ratio, double target) {
    }

    private static final int LABEL_WIDTH = 490;
    private static final int PLOT_WIDTH = 420;
    private static final int ROW = 22;
    private static final int TOP = 40;
    private static final double MIN = 0.05;
    private static final double MAX = 50;

    private RatioChart() {
    }

    /** @return the chart as an SVG document */
    static String svg(String title, List<Bar> bars) {
        int height = TOP + ROW * bars.size() + 40;
        int width = LABEL_WIDTH + PLOT_WIDTH + 20;
        StringBuilder s = new StringBuilder();
        s.append(f("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\""
                + " font-size=\"12\">%n", width, height));
        s.append(f("<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height));
        s.append(f("<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">%s</text>%n", escape(title)));
        for (double tick : new double[] {0.1, 0.25, 0.5, 1, 2, 4, 10, 25}) {
            double x = x(tick);
            s.append(f("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>%n", x, TOP - 6, x,
                    TOP + ROW * bars.size(), tick == 1 ? "black" : "#ddd"));
            s.append(f("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", x,
                    TOP + ROW * bars.size() + 16, tick < 1 ? Double.toString(tick) : Long.toString((long) tick)));
        }
        s.append(f("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">shm4j / peer (log scale; right of 1 = shm4j"
                + " better)</text>%n", LABEL_WIDTH + PLOT_WIDTH / 2, TOP + ROW * bars.size() + 32));
        for (int i = 0; i < bars.size(); i++) {
            Bar bar = bars.get(i);
            int y = TOP + ROW * i;
            double ratio = bar.ratio().value();
            String colour = bar.target() <= 0 ? "#999" : ratio >= bar.target() ? "#3a3" : "#e80";
            s.append(f("<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n", LABEL_WIDTH - 8, y + 15,
                    escape(bar.label())));
            double x0 = x(1);
            double x1 = x(ratio);
            s.append(f("<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>%n", Math.min(x0, x1),
                    y + 4, Math.abs(x1 - x0), ROW - 8, colour));
            double low = x(ratio - bar.ratio().error());
            double high = x(ratio + bar.ratio().error());
            s.append(f("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>%n", low, y + ROW / 2,
                    high, y + ROW / 2));
            if (bar.target() > 0) {
                double t = x(bar.target());
                s.append(f("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"red\" stroke-width=\"2\"/>%n",
                        t, y + 2, t, y + ROW - 2));
            }
            double labelX = Math.max(Math.max(x0, x1), high) + 4; // right of the bar, its whisker and parity
            s.append(f("<text x=\"%.1f\" y=\"%d\" font-size=\"10\">%.2f</text>%n", labelX, y + 15, ratio));
        }
        return s.append("</svg>\n").toString();
    }

    /** @return the horizontal position of {@code ratio}, clamped to the plot */
    private static double x(double ratio) {
        double clamped = Math.min(MAX, Math.max(MIN, ratio));
        return LABEL_WIDTH + PLOT_WIDTH * Math.log(clamped / MIN) / Math.log(MAX / MIN);
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
