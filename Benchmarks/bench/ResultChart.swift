/// The SVG chart `bench report` writes for one scenario, as text. Each table with a `ChartSpec`
/// is a panel of horizontal bars on one axis from zero: every row's baselines (grey) above its
/// Tether series (blue), a whisker over each bar's spread (the extreme runs, or p50 to p99) and
/// the value at the end. 760 px wide, so a README shows it at its own size.
enum ResultChart {
    static let width = 760.0
    static let margin = 16.0
    static let tetherColor = "#2f6db5"
    static let baselineColor = "#a6a6a6"
    static let textColor = "#1f1f1f"
    static let mutedColor = "#5c5c5c"
    static let gridColor = "#e4e4e4"

    /// The chart, or nil when no table of the result has one.
    static func svg(_ result: BenchResult) -> String? {
        var panels = result.tables.compactMap(Panel.init)
        guard !panels.isEmpty else { return nil }
        // One label column for all panels, so their axes start at the same x.
        let labelWidth = panels.map(\.labelWidth).max()!
        for index in panels.indices { panels[index].labelWidth = labelWidth }
        var body = ""
        var top = margin
        for (index, panel) in panels.enumerated() {
            if index > 0 { top += 28 }
            body += panel.draw(top: top)
            top += panel.height
        }
        let height = (top + margin).rounded(.up)
        let w = number(width)
        let h = number(height)
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" \
            font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12" \
            role="img" aria-label="bench \(escaped(result.scenario)): Tether beside its baselines">
            <title>bench \(escaped(result.scenario)): Tether beside the baselines of the same run</title>
            <rect width="100%" height="100%" fill="#ffffff"/>

            """ + body + "</svg>\n"
    }

    /// A coordinate or size, to a tenth of a pixel.
    static func number(_ value: Double) -> String {
        let text = format(value, 1)
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    /// Text safe in SVG content and attribute values.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }

    /// About how wide `text` is at `size` px in the sans-serif fonts the chart names; labels are
    /// laid out and cut from this estimate.
    static func textWidth(_ text: String, size: Double = 12) -> Double {
        Double(text.count) * size * 0.56
    }

    /// `text` cut to fit `width` px, ending with an ellipsis when cut.
    static func fitted(_ text: String, width: Double, size: Double = 12) -> String {
        guard textWidth(text, size: size) > width else { return text }
        let keep = Swift.max(1, Int(width / (size * 0.56)) - 1)
        return String(text.prefix(keep)) + "…"
    }

    /// `text` broken into lines at spaces, each about `width` px at `size` px or less.
    static func wrapped(_ text: String, width: Double, size: Double) -> [String] {
        let limit = Swift.max(10, Int(width / (size * 0.56)))
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > limit {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// A step of 1, 2, 2.5 or 5 times a power of ten, the smallest at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        for factor in [1.0, 2, 2.5, 5] where factor * magnitude >= raw { return factor * magnitude }
        return 10 * magnitude
    }

    /// Decimals that show every multiple of `step` exactly (up to 6).
    static func decimals(_ step: Double) -> Int {
        var scaled = step
        for digits in 0..<6 {
            if abs(scaled - scaled.rounded()) < 1e-9 * Swift.max(1, abs(scaled)) { return digits }
            scaled *= 10
        }
        return 6
    }
}

/// One table's panel: title, caption, legend, the row groups of bars, the axis.
private struct Panel {
    struct Bar {
        let name: String
        let isTether: Bool
        let figure: Figure
    }

    struct Group {
        let label: String
        let bars: [Bar]
    }

    static let titleSize = 14.0
    static let titleLine = 19.0
    static let captionSize = 11.0
    static let captionLine = 15.0
    static let legendHeight = 24.0
    static let groupHeader = 19.0
    static let barHeight = 14.0
    static let barPitch = 20.0
    static let groupGap = 6.0
    static let axisHeight = 42.0
    static let valueSpace = 70.0

    let titleLines: [String]
    let captionLines: [String]
    let axisTitle: String
    let groups: [Group]
    var labelWidth: Double
    let axisMax: Double
    let step: Double

    init?(_ table: ResultTable) {
        guard let spec = table.chart else { return nil }
        // Bars of unmeasured (negative) figures are left out.
        func bars(_ series: [Series], tether: Bool) -> [Bar] {
            series.compactMap { series in
                guard let figure = series.figure(spec.metric), figure.value >= 0, figure.value.isFinite else {
                    return nil
                }
                return Bar(name: series.name, isTether: tether, figure: figure)
            }
        }
        groups = table.rows.compactMap { row in
            let rowBars = bars(row.baselines, tether: false) + bars(row.tether, tether: true)
            return rowBars.isEmpty ? nil : Group(label: row.label, bars: rowBars)
        }
        guard let unit = groups.first?.bars.first?.figure.unit else { return nil }
        let all = groups.flatMap(\.bars)
        let top = all.map { Swift.max($0.figure.value, $0.figure.spread?.upperBound ?? 0) }.max() ?? 0
        step = ResultChart.niceStep((top > 0 ? top : 1) / 5)
        axisMax = Swift.max(step, (top / step).rounded(.up) * step)
        let longest = all.map { ResultChart.textWidth($0.name) }.max() ?? 0
        labelWidth = Swift.min(300, Swift.max(90, longest + 10))
        axisTitle = spec.metric + (unit.isEmpty ? "" : " (\(unit))")

        let textWidth = ResultChart.width - 2 * ResultChart.margin
        titleLines = ResultChart.wrapped(table.title, width: textWidth, size: Self.titleSize)
        var statistics: [String] = []
        for bar in all {
            let figure = bar.figure
            let text: String
            switch figure.statistic {
            case .median:
                let runs = figure.runs.map { "\($0) run\($0 == 1 ? "" : "s")" } ?? "the runs"
                text = "bar: median of \(runs)" + (figure.spread == nil ? "" : ", whisker: lowest to highest run")
            case .p50: text = "bar: p50 of every sample" + (figure.spread == nil ? "" : ", whisker: p50 to p99")
            case .single: text = "bar: one measurement"
            }
            if !statistics.contains(text) { statistics.append(text) }
        }
        let caption =
            "\(axisTitle), \(spec.higherIsBetter ? "higher" : "lower") is better. " + statistics.joined(separator: "; ")
            + "."
        captionLines = ResultChart.wrapped(caption, width: textWidth, size: Self.captionSize)
    }

    var height: Double {
        Double(titleLines.count) * Self.titleLine + Double(captionLines.count) * Self.captionLine
            + Self.legendHeight
            + groups.reduce(0) { $0 + Self.groupHeader + Double($1.bars.count) * Self.barPitch + Self.groupGap }
            + Self.axisHeight
    }

    var plotLeft: Double { ResultChart.margin + labelWidth + 8 }
    var plotRight: Double { ResultChart.width - ResultChart.margin - Self.valueSpace }

    func x(_ value: Double) -> Double {
        plotLeft + (plotRight - plotLeft) * Swift.min(Swift.max(value, 0), axisMax) / axisMax
    }

    func draw(top: Double) -> String {
        typealias C = ResultChart
        let n = C.number
        let left = C.margin
        var svg = ""
        var y = top
        for line in titleLines {
            svg += "<text x=\"\(n(left))\" y=\"\(n(y + 14))\" font-size=\"\(n(Self.titleSize))\" font-weight=\"600\""
            svg += " fill=\"\(C.textColor)\">\(C.escaped(line))</text>\n"
            y += Self.titleLine
        }
        for line in captionLines {
            svg += "<text x=\"\(n(left))\" y=\"\(n(y + 11))\" font-size=\"\(n(Self.captionSize))\""
            svg += " fill=\"\(C.mutedColor)\">\(C.escaped(line))</text>\n"
            y += Self.captionLine
        }
        // Legend: the two roles and the whisker.
        let legendY = y + 6
        var legendX = left
        for (color, label) in [(C.tetherColor, "Tether"), (C.baselineColor, "baseline")] {
            svg += "<rect x=\"\(n(legendX))\" y=\"\(n(legendY))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>\n"
            svg += "<text x=\"\(n(legendX + 17))\" y=\"\(n(legendY + 10))\" fill=\"\(C.textColor)\">"
            svg += "\(C.escaped(label))</text>\n"
            legendX += 17 + C.textWidth(label) + 18
        }
        svg += whisker(from: legendX, to: legendX + 22, y: legendY + 6)
        svg += "<text x=\"\(n(legendX + 28))\" y=\"\(n(legendY + 10))\" fill=\"\(C.textColor)\">spread</text>\n"
        y += Self.legendHeight

        let ticks = Int((axisMax / step).rounded())
        for (number, group) in groups.enumerated() {
            svg += "<text x=\"\(n(left))\" y=\"\(n(y + 14))\" font-weight=\"600\" fill=\"\(C.textColor)\">"
            svg += "\(C.escaped(group.label))</text>\n"
            y += Self.groupHeader
            // Grid lines behind the group's bars, one per tick, clear of the group's label; the
            // last group's run down to the tick labels.
            let gridTop = y - 3
            let gridBottom =
                y + Double(group.bars.count) * Self.barPitch + (number == groups.count - 1 ? Self.groupGap : 0)
            for index in 0...ticks {
                let tickX = x(Double(index) * step)
                svg += "<line x1=\"\(n(tickX))\" y1=\"\(n(gridTop))\" x2=\"\(n(tickX))\" y2=\"\(n(gridBottom))\""
                svg += " stroke=\"\(index == 0 ? C.mutedColor : C.gridColor)\" stroke-width=\"1\"/>\n"
            }
            for bar in group.bars {
                svg += draw(bar, top: y)
                y += Self.barPitch
            }
            y += Self.groupGap
        }

        // The axis: tick labels and its title.
        let labelDigits = C.decimals(step >= 1000 ? step / 1000 : step)
        for index in 0...ticks {
            let value = Double(index) * step
            let label =
                index == 0
                ? "0" : axisMax >= 10_000 ? format(value / 1000, labelDigits) + "k" : format(value, labelDigits)
            svg += "<text x=\"\(n(x(value)))\" y=\"\(n(y + 12))\" font-size=\"11\" text-anchor=\"middle\""
            svg += " fill=\"\(C.mutedColor)\">\(label)</text>\n"
        }
        svg += "<text x=\"\(n((plotLeft + plotRight) / 2))\" y=\"\(n(y + 32))\" text-anchor=\"middle\""
        svg += " fill=\"\(C.textColor)\">\(C.escaped(axisTitle))</text>\n"
        return svg
    }

    /// One bar at `top`: its series name right-aligned before the axis, the bar, the whisker
    /// over its spread and its value after both.
    private func draw(_ bar: Bar, top: Double) -> String {
        typealias C = ResultChart
        let n = C.number
        let figure = bar.figure
        let middle = top + Self.barHeight / 2
        let name = C.fitted(bar.name, width: labelWidth)
        var svg = "<text x=\"\(n(plotLeft - 8))\" y=\"\(n(middle + 4))\" text-anchor=\"end\""
        svg += " fill=\"\(C.textColor)\">\(C.escaped(name))</text>\n"
        let end = x(figure.value)
        svg += "<rect x=\"\(n(plotLeft))\" y=\"\(n(top))\" width=\"\(n(Swift.max(end - plotLeft, 1)))\""
        svg += " height=\"\(n(Self.barHeight))\" fill=\"\(bar.isTether ? C.tetherColor : C.baselineColor)\"/>\n"
        var textX = end
        if let spread = figure.spread, spread.lowerBound < spread.upperBound {
            svg += whisker(from: x(spread.lowerBound), to: x(spread.upperBound), y: middle)
            textX = Swift.max(textX, x(spread.upperBound))
        }
        svg += "<text x=\"\(n(textX + 6))\" y=\"\(n(middle + 4))\" font-size=\"11\" fill=\"\(C.textColor)\">"
        svg += "\(format(figure.value, figure.digits))</text>\n"
        return svg
    }

    /// A horizontal line from `from` to `to` with a cap at each end.
    private func whisker(from: Double, to: Double, y: Double) -> String {
        let n = ResultChart.number
        var svg = "<path d=\"M\(n(from)) \(n(y))H\(n(to))M\(n(from)) \(n(y - 4))V\(n(y + 4))"
        svg += "M\(n(to)) \(n(y - 4))V\(n(y + 4))\" stroke=\"\(ResultChart.textColor)\" stroke-width=\"1.2\""
        svg += " fill=\"none\"/>\n"
        return svg
    }
}
