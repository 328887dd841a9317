package org.shm4j.bench.report;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link RatioChart}: the legend, the colours of the verdicts, and no text past the edge. */
class RatioChartTest {
    /** Every verdict, a ratio far above the scale, one far below it, and a long label. */
    private static final List<RatioChart.Bar> BARS = List.of(
            new RatioChart.Bar("Queues: MPMC 256 B: SharedRing / ArrayBlockingQueue", new Score(7.1, 1.2, ""), 3),
            new RatioChart.Bar("Locks, uncontended: SharedLock / ReentrantLock", new Score(0.35, 0.07, ""), 1),
            new RatioChart.Bar("Queues: MPSC 8 B: SharedRing / Agrona ManyToOneRingBuffer (a quick run's row)",
                    new Score(368, 949, ""), 1),
            new RatioChart.Bar("Cross-process p50 round trip: Agrona back-off / SharedRing blocking",
                    new Score(0.001, 0, ""), 0));

    private final Element svg = parse(RatioChart.svg("shm4j / peer, same JMH run: quick-20260101-000000", BARS));

    @Test
    void legendNamesEveryColourAndMark() {
        assertThat(texts()).contains("met: ratio − error ≥ target", "missed: ratio + error < target",
                "within the noise: target inside ratio ± error", "no target", "target", "1 = parity",
                "± error (JMH 99.9% confidence, combined)");
    }

    @Test
    void barsTakeTheColourTheLegendGivesTheirVerdict() {
        List<String> fills = new ArrayList<>();
        NodeList rects = svg.getElementsByTagName("rect");
        for (int i = 0; i < rects.getLength(); i++) {
            fills.add(((Element) rects.item(i)).getAttribute("fill"));
        }
        // the background, then the legend's swatches (met, missed, within the noise, no target), then the bars
        assertThat(fills).hasSize(1 + 4 + BARS.size());
        assertThat(fills.subList(5, 9)).containsExactly(fills.get(1), fills.get(2), fills.get(3), fills.get(4));
        assertThat(fills.subList(1, 5)).doesNotHaveDuplicates();
    }

    @Test
    void everyTextStaysInsideTheViewBox() {
        String[] viewBox = svg.getAttribute("viewBox").split(" ");
        double width = Double.parseDouble(viewBox[2]);
        double height = Double.parseDouble(viewBox[3]);
        assertThat(viewBox[0] + viewBox[1]).isEqualTo("00");
        assertThat(width).isEqualTo(Double.parseDouble(svg.getAttribute("width")));
        NodeList texts = svg.getElementsByTagName("text");
        assertThat(texts.getLength()).isGreaterThan(BARS.size() * 2);
        for (int i = 0; i < texts.getLength(); i++) {
            Element text = (Element) texts.item(i);
            double size = text.hasAttribute("font-size") ? Double.parseDouble(text.getAttribute("font-size")) : 12;
            // a sans-serif font's characters are about 0.6 of its size wide on average
            double textWidth = text.getTextContent().length() * 0.6 * size;
            double x = Double.parseDouble(text.getAttribute("x"));
            double left = switch (text.getAttribute("text-anchor")) {
                case "end" -> x - textWidth;
                case "middle" -> x - textWidth / 2;
                default -> x;
            };
            double y = Double.parseDouble(text.getAttribute("y"));
            assertThat(left).as(text.getTextContent()).isGreaterThanOrEqualTo(0);
            assertThat(left + textWidth).as(text.getTextContent()).isLessThanOrEqualTo(width);
            assertThat(y).as(text.getTextContent()).isBetween(size, height);
        }
    }

    private List<String> texts() {
        List<String> texts = new ArrayList<>();
        NodeList nodes = svg.getElementsByTagName("text");
        for (int i = 0; i < nodes.getLength(); i++) {
            texts.add(nodes.item(i).getTextContent());
        }
        return texts;
    }

    private static Element parse(String svg) {
        try {
            return DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8))).getDocumentElement();
        } catch (Exception e) {
            throw new AssertionError("not well-formed SVG: " + e.getMessage(), e);
        }
    }
}
