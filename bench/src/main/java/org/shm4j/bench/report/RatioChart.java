package org.shm4j.bench.report;

import java.util.List;
import java.util.Locale;

/**
 * Draws ratios as an SVG bar chart on a log scale: one bar per line from parity (1) to the ratio, an error whisker,
 * a tick at the target where there is one, and the ratio ± error as text right of it. A bar's colour is its
 * {@link Verdict}: green met, red missed, amber within the noise, grey without a target. A legend under the title
 * says so. Every width is computed from the texts it holds (about {@value #EM_WIDTH} of the font size per
 * character, a little more than sans-serif fonts' average), so no label is cut at the edge.
 */
final class RatioChart {
    /**
     * One bar.
     *
     * @param label  what is compared
     * @param ratio  shm4j / peer with its error
     * @param target the lowest ratio that meets the target, or 0 for none
     */
    record Bar(String label, Score ratio, double target) {
        /** @return the bar's verdict */
        Verdict verdict() {
            return Verdict.of(ratio, target);
        }
    }

    /** The estimated width of one character, in units of the font size. */
    private static final double EM_WIDTH = 0.6;
    private static final int FONT = 12;
    private static final int SMALL_FONT = 10;
    private static final int TITLE_FONT = 14;
    private static final int MARGIN = 10;
    private static final int PLOT_WIDTH = 420;
    private static final int ROW = 22;
    private static final int LEGEND_ROW = 18;
    private static final double MIN = 0.05;
    private static final double MAX = 50;
    private static final String TARGET_COLOUR = "#1f4fbf";
    private static final String[][] SWATCHES = {
            {colour(Verdict.MET), "met: ratio − error ≥ target"},
            {colour(Verdict.MISSED), "missed: ratio + error < target"},
            {colour(Verdict.WITHIN_NOISE), "within the noise: target inside ratio ± error"},
            {colour(Verdict.NO_TARGET), "no target"}};
    private static final String[] MARKS = {"target", "1 = parity", "± error (JMH 99.9% confidence, combined)"};

    private final StringBuilder s = new StringBuilder();
    private final double labelWidth;
    private final int width;

    private RatioChart(double labelWidth, int width) {
        this.labelWidth = labelWidth;
        this.width = width;
    }

    /** @return the chart as an SVG document */
    static String svg(String title, List<Bar> bars) {
        double labels = MARGIN + bars.stream().mapToDouble(b -> textWidth(b.label(), FONT)).max().orElse(0) + 8;
        double values = bars.stream().mapToDouble(b -> textWidth(value(b.ratio()), SMALL_FONT)).max().orElse(0);
        int width = (int) Math.ceil(Math.max(labels + PLOT_WIDTH + 4 + values + MARGIN,
                MARGIN + textWidth(title, TITLE_FONT) + MARGIN));
        RatioChart chart = new RatioChart(labels, width);
        int top = chart.legend(36) + 26;
        int bottom = top + ROW * bars.size();
        int height = bottom + 42;
        chart.s.insert(0, f("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                + " font-family=\"sans-serif\" font-size=\"%d\">%n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n"
                + "<text x=\"%d\" y=\"20\" font-size=\"%d\" font-weight=\"bold\">%s</text>%n", width, height, width,
                height, FONT, width, height, MARGIN, TITLE_FONT, escape(title)));
        chart.axis(top, bottom);
        for (int i = 0; i < bars.size(); i++) {
            chart.bar(bars.get(i), top + ROW * i);
        }
        return chart.s.append("</svg>\n").toString();
    }

    /**
     * Draws the legend from {@code y} down: the colours, then the marks on a line of their own, wrapping at the
     * chart's width.
     *
     * @return the legend's bottom
     */
    private int legend(int y) {
        double x = MARGIN;
        int line = y;
        for (int i = 0; i < SWATCHES.length + MARKS.length; i++) {
            String text = i < SWATCHES.length ? SWATCHES[i][1] : MARKS[i - SWATCHES.length];
            double itemWidth = 18 + textWidth(text, FONT);
            if (x > MARGIN && (x + itemWidth > width - MARGIN || i == SWATCHES.length)) { // the marks on a new line
                x = MARGIN;
                line += LEGEND_ROW;
            }
            if (i < SWATCHES.length) {
                s.append(f("<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>%n", x, line - 10,
                        SWATCHES[i][0]));
            } else {
                mark(i - SWATCHES.length, x + 6, line - 4);
            }
            s.append(f("<text x=\"%.1f\" y=\"%d\">%s</text>%n", x + 18, line, escape(text)));
            x += itemWidth + 16;
        }
        return line;
    }

    /** Draws legend mark {@code which} of {@link #MARKS} centred on ({@code x}, {@code y}). */
    private void mark(int which, double x, int y) {
        switch (which) {
            case 0 -> line(x, y - 7, x, y + 7, TARGET_COLOUR, 3);
            case 1 -> line(x, y - 8, x, y + 8, "black", 1);
            default -> whisker(x - 6, x + 6, y);
        }
    }

    /** Draws the grid, the parity line and the scale under rows {@code top} to {@code bottom}. */
    private void axis(int top, int bottom) {
        for (double tick : new double[] {0.1, 0.25, 0.5, 1, 2, 4, 10, 25}) {
            double x = x(tick);
            line(x, top - 6, x, bottom, tick == 1 ? "black" : "#ddd", 1);
            s.append(f("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", x, bottom + 16,
                    tick < 1 ? Double.toString(tick) : Long.toString((long) tick)));
        }
        s.append(f("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">shm4j / peer (log scale; right of 1 = shm4j"
                + " better)</text>%n", labelWidth + PLOT_WIDTH / 2.0, bottom + 32));
    }

    /** Draws one bar in the row starting at {@code y}. */
    private void bar(Bar bar, int y) {
        double ratio = bar.ratio().value();
        s.append(f("<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\">%s</text>%n", labelWidth - 8, y + 15,
                escape(bar.label())));
        double x0 = x(1);
        double x1 = x(ratio);
        s.append(f("<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>%n", Math.min(x0, x1),
                y + 4, Math.abs(x1 - x0), ROW - 8, colour(bar.verdict())));
        double high = x(ratio + bar.ratio().error());
        if (bar.ratio().error() > 0) {
            whisker(x(ratio - bar.ratio().error()), high, y + ROW / 2);
        }
        if (bar.target() > 0) {
            double t = x(bar.target());
            line(t, y + 2, t, y + ROW - 2, TARGET_COLOUR, 3);
        }
        double valueX = Math.max(Math.max(x0, x1), high) + 4; // right of the bar, its whisker and parity
        s.append(f("<text x=\"%.1f\" y=\"%d\" font-size=\"%d\">%s</text>%n", valueX, y + 15, SMALL_FONT,
                value(bar.ratio())));
    }

    private void whisker(double low, double high, int y) {
        line(low, y, high, y, "black", 1);
        line(low, y - 3, low, y + 3, "black", 1);
        line(high, y - 3, high, y + 3, "black", 1);
    }

    private void line(double x1, double y1, double x2, double y2, String colour, int strokeWidth) {
        s.append(f("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"%s/>%n", x1, y1, x2, y2,
                colour, strokeWidth == 1 ? "" : " stroke-width=\"" + strokeWidth + "\""));
    }

    /** @return the horizontal position of {@code ratio}, clamped to the plot */
    private double x(double ratio) {
        double clamped = Math.min(MAX, Math.max(MIN, ratio));
        return labelWidth + PLOT_WIDTH * Math.log(clamped / MIN) / Math.log(MAX / MIN);
    }

    /** @return the text written right of a bar: the ratio, and its error where there is one */
    private static String value(Score ratio) {
        return ratio.error() > 0 ? f("%.2f ± %.2f", ratio.value(), ratio.error()) : f("%.2f", ratio.value());
    }

    /** @return the estimated width of {@code text} at {@code fontSize} */
    private static double textWidth(String text, int fontSize) {
        return text.codePointCount(0, text.length()) * EM_WIDTH * fontSize;
    }

    private static String colour(Verdict verdict) {
        return switch (verdict) {
            case MET -> "#2e9e44";
            case MISSED -> "#d1362f";
            case WITHIN_NOISE -> "#f0b429";
            case NO_TARGET -> "#aaa";
        };
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
