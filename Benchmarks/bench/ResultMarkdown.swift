import Foundation

/// The Markdown `bench report` writes for one scenario's result: where and how it was measured,
/// its chart, and each table with one line per series, baselines first.
enum ResultMarkdown {
    /// The section that replaces the scenario's marker in the template. `chart` is the chart's
    /// path relative to the document, when the result has one.
    static func section(_ result: BenchResult, chart: String?) -> String {
        var lines = [provenance(result)]
        if let note = result.machine.note { lines += ["", "_\(note)_"] }
        if result.machine.build != "release" {
            lines += ["", "**\(result.machine.build) build: these figures say nothing about Tether's speed.**"]
        }
        if let chart {
            lines += ["", "![bench \(result.scenario): Tether beside the baselines of the same run](\(chart))"]
        }
        for table in result.tables { lines += [""] + self.table(table) }
        return lines.joined(separator: "\n")
    }

    /// One line: date, command, build and machine, commit.
    static func provenance(_ result: BenchResult) -> String {
        let machine = result.machine
        var parts = [String(machine.date.prefix(10)), "`\(command(result))`", "\(machine.build) build"]
        parts.append("\(machine.cores) cores" + (machine.cpuModel.map { " (\($0))" } ?? ""))
        parts.append("Linux \(machine.kernel)")
        if let commit = machine.gitCommit {
            parts.append("commit \(commit.prefix(10))" + (machine.gitDirty == true ? " with local changes" : ""))
        }
        return "_Measured " + parts.joined(separator: " · ") + "._"
    }

    /// The command line that produced the result, without its `--json` destination.
    static func command(_ result: BenchResult) -> String {
        var arguments: [String] = []
        var skipNext = false
        for argument in result.arguments {
            if skipNext {
                skipNext = false
            } else if argument == "--json" {
                skipNext = true
            } else if !argument.hasPrefix("--json=") {
                arguments.append(argument.contains(" ") ? "'\(argument)'" : argument)
            }
        }
        return arguments.joined(separator: " ")
    }

    /// A column of figures: one metric's headline value, or the p99 beside a p50.
    private struct Column: Equatable {
        enum Part { case value, p99 }
        let metric: String
        let unit: String
        let part: Part
        let header: String
    }

    /// The table's title, subtitle, Markdown table and the notes of unmeasured series.
    static func table(_ table: ResultTable) -> [String] {
        let series = table.rows.flatMap { row in (row.baselines + row.tether).map { (row.label, $0) } }
        let columns = columns(of: series.map(\.1))
        let showsCPU = series.contains { $0.1.cpuMicrosecondsPerOperation != nil }
        var header = [table.labelHeader, table.seriesHeader] + columns.map(\.header)
        if let ratioHeader = table.ratioHeader { header.append(ratioHeader) }
        if showsCPU { header.append("CPU µs/op") }
        var lines = ["**\(escaped(table.title))**"]
        if let subtitle = table.subtitle { lines += ["", escaped(subtitle)] }
        lines += ["", row(header), row(header.indices.map { $0 < 2 ? "---" : "---:" })]
        for (label, series) in series {
            var cells = [label, series.name]
            for column in columns {
                guard let figure = series.figures.first(where: { $0.metric == column.metric && $0.unit == column.unit })
                else {
                    cells.append("")
                    continue
                }
                switch column.part {
                case .value: cells.append(cell(figure))
                case .p99: cells.append(figure.p99.map { format($0, figure.digits) } ?? "")
                }
            }
            if table.ratioHeader != nil { cells.append(series.ratio.map { format($0, 2) + "×" } ?? "") }
            if showsCPU { cells.append(series.cpuMicrosecondsPerOperation.map { format($0, 2) } ?? "") }
            lines.append(row(cells))
        }
        var noted: [String] = []
        for (_, series) in series {
            guard let note = series.note else { continue }
            let line = "\(series.name): \(note)."
            if !noted.contains(line) { noted.append(line) }
        }
        if !noted.isEmpty { lines += [""] + noted.map { "_\(escaped($0))_" } }
        return lines
    }

    /// The columns the figures need, in order of first appearance; a metric given as p50
    /// anywhere gets a p99 column beside it.
    private static func columns(of series: [Series]) -> [Column] {
        var keys: [(metric: String, unit: String)] = []
        var percentiles: Set<String> = []
        for figure in series.flatMap(\.figures) {
            if !keys.contains(where: { $0.metric == figure.metric && $0.unit == figure.unit }) {
                keys.append((figure.metric, figure.unit))
            }
            if figure.statistic == .p50 { percentiles.insert(figure.metric + "\u{0}" + figure.unit) }
        }
        return keys.flatMap { metric, unit in
            let unitText = unit.isEmpty ? "" : " (\(unit))"
            guard percentiles.contains(metric + "\u{0}" + unit) else {
                return [Column(metric: metric, unit: unit, part: .value, header: metric + unitText)]
            }
            return [
                Column(metric: metric, unit: unit, part: .value, header: "\(metric) p50\(unitText)"),
                Column(metric: metric, unit: unit, part: .p99, header: "\(metric) p99\(unitText)"),
            ]
        }
    }

    /// The headline value, with the extreme runs when there were several.
    static func cell(_ figure: Figure) -> String {
        let value = format(figure.value, figure.digits)
        guard figure.statistic == .median, (figure.runs ?? 0) > 1, let min = figure.min, let max = figure.max else {
            return value
        }
        return "\(value) [\(format(min, figure.digits))–\(format(max, figure.digits))]"
    }

    private static func row(_ cells: [String]) -> String {
        "| " + cells.map(escaped).joined(separator: " | ") + " |"
    }

    /// Text safe inside a Markdown table cell and outside code: pipes escaped.
    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|")
    }
}
