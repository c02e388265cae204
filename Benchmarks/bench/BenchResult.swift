import ArgumentParser
import Foundation

/// The machine-readable result of one scenario run (`bench <scenario> --json PATH`): what ran,
/// on which machine, and each table's rows, every Tether figure beside the baselines measured in
/// the same run. `bench report` reads these files; docs/benchmarks.md describes the schema.
struct BenchResult: Codable, Sendable {
    /// Names this layout; a reader refuses files of another schema.
    static let currentSchema = "tether-bench/1"

    var schema = BenchResult.currentSchema
    /// The subcommand: `raw`, `throughput`, `rtt`, …
    var scenario: String
    /// The command line that produced the result, `bench` first.
    var arguments: [String]
    /// The scenario's options as parsed (run counts, sizes, transports, `peer`).
    var parameters: [String: ParameterValue]
    var machine: MachineFacts
    var tables: [ResultTable]
}

/// Where and when a result was measured.
struct MachineFacts: Codable, Sendable {
    /// Online CPUs.
    var cores: Int
    /// `model name` of /proc/cpuinfo, when it has one.
    var cpuModel: String?
    /// The kernel release (`uname -r`).
    var kernel: String
    /// When the scenario finished, ISO 8601 in UTC.
    var date: String
    /// `git rev-parse HEAD` of the working directory, when it is a git checkout.
    var gitCommit: String?
    /// Whether tracked files differed from that commit.
    var gitDirty: Bool?
    /// `release` or `debug`: debug figures say nothing about Tether's speed.
    var build: String
    /// Where the figures come from when not from a run of this bench (hand-written fixtures).
    var note: String?
}

/// One option's value, kept with its JSON type.
enum ParameterValue: Codable, Sendable, Equatable {
    case int(Int)
    case string(String)
    case ints([Int])
    case strings([String])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([Int].self) {
            self = .ints(value)
        } else {
            self = .strings(try container.decode([String].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .ints(let value): try container.encode(value)
        case .strings(let value): try container.encode(value)
        }
    }

}

/// One table of a scenario (most print one, some a second one for `--peer go`).
struct ResultTable: Codable, Sendable {
    /// Stable name within the scenario: `rtt`, `rtt-go`, …
    var id: String
    /// The heading the text output prints for this table.
    var title: String
    /// What the figures are (the text output's second line, when it has one).
    var subtitle: String?
    /// Column heading of the row labels (`transport`, `streams`, …).
    var labelHeader: String
    /// Column heading of the series names (`path`, `neighbour`, …).
    var seriesHeader: String
    /// What `Series.ratio` divides (`p50 vs raw`, `Tether/Go`), when the table has ratios.
    var ratioHeader: String?
    /// The figure the chart draws; no chart without it.
    var chart: ChartSpec?
    var rows: [ResultRow]
}

/// Which figure of each series a chart draws.
struct ChartSpec: Codable, Sendable {
    /// `Figure.metric` of the figure drawn.
    var metric: String
    var higherIsBetter: Bool
}

/// One configuration (a transport, a stream count, a payload size): Tether's series beside the
/// baselines measured with it.
struct ResultRow: Codable, Sendable {
    var label: String
    var tether: [Series]
    var baselines: [Series]
}

/// One path measured: a Tether configuration or a baseline.
struct Series: Codable, Sendable {
    var name: String
    var figures: [Figure]
    /// This series' headline figure against the row's baseline, as `ResultTable.ratioHeader` says.
    var ratio: Double?
    /// CPU time per operation, where the scenario measures it.
    var cpuMicrosecondsPerOperation: Double?
    /// Where a figure comes from when it is not measured (go-plugin's descriptors per plugin).
    var note: String?

    init(
        _ name: String, _ figures: [Figure], ratio: Double? = nil, cpuMicrosecondsPerOperation: Double? = nil,
        note: String? = nil
    ) {
        self.name = name
        self.figures = figures
        self.ratio = ratio
        self.cpuMicrosecondsPerOperation = cpuMicrosecondsPerOperation
        self.note = note
    }

    func figure(_ metric: String) -> Figure? { figures.first { $0.metric == metric } }
}

/// One measured quantity with its spread.
struct Figure: Codable, Sendable {
    /// How `value` summarizes the measurements.
    enum Statistic: String, Codable, Sendable {
        /// The median of one figure per run; `min` and `max` are the extreme runs.
        case median
        /// The 50th percentile of every sample of every run; `p99` is the 99th.
        case p50
        /// One measurement, or a count.
        case single
    }

    var metric: String
    var unit: String
    var statistic: Statistic
    var value: Double
    var min: Double?
    var max: Double?
    var p99: Double?
    /// Runs the median is taken over.
    var runs: Int?
    /// Samples the percentiles are taken over.
    var samples: Int?
    /// Decimals worth printing.
    var digits: Int

    /// The median of one value per run, with the extreme runs.
    static func median(_ metric: String, _ unit: String, of values: [Double], digits: Int) -> Figure {
        let summary = Summary(values)
        return Figure(
            metric: metric, unit: unit, statistic: .median, value: summary.median, min: summary.min,
            max: summary.max, runs: values.count, digits: digits)
    }

    /// p50 and p99 of every sample.
    static func percentiles(_ metric: String, _ unit: String, of samples: [Double], digits: Int) -> Figure {
        let summary = Summary(samples)
        return Figure(
            metric: metric, unit: unit, statistic: .p50, value: summary.median, p99: summary.percentile(99),
            samples: samples.count, digits: digits)
    }

    /// One measurement or count.
    static func single(_ metric: String, _ unit: String, _ value: Double, digits: Int = 0) -> Figure {
        Figure(metric: metric, unit: unit, statistic: .single, value: value, digits: digits)
    }

    /// The range the spread covers: extreme runs, or p50 to p99.
    var spread: ClosedRange<Double>? {
        switch statistic {
        case .median:
            guard let min, let max, min <= max else { return nil }
            return min...max
        case .p50:
            guard let p99, value <= p99 else { return nil }
            return value...p99
        case .single: return nil
        }
    }
}

/// `--json PATH`, shared by every scenario: writes the run's `BenchResult` to PATH as well as
/// printing the tables.
struct ResultOptions: ParsableArguments {
    @Option(
        name: .customLong("json"),
        help: ArgumentHelp(
            "Also write the results as JSON to this file (read by `bench report`).", valueName: "path"))
    var path: String?

    /// Writes the result file, when `--json` asked for one. Called once the scenario's reactor
    /// has shut down: the git commit is read by running git, and no other child is running then.
    func write(scenario: String, parameters: [String: ParameterValue], tables: [ResultTable]) throws {
        guard let path else { return }
        let result = BenchResult(
            scenario: scenario, arguments: ["bench"] + CommandLine.arguments.dropFirst(), parameters: parameters,
            machine: .current(), tables: tables)
        try ResultFile.write(result, to: path)
    }
}

/// Reading and writing result files: one encoding for the bench and the report.
enum ResultFile {
    static func write(_ result: BenchResult, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // A ratio against a zero baseline is infinite; JSON has no number for it.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try encoder.encode(result)
        data.append(0x0A)
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }

    static func read(_ path: String) throws -> BenchResult {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let result = try decoder.decode(BenchResult.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        guard result.schema == BenchResult.currentSchema else {
            throw BenchError("\(path): schema \(result.schema), this bench reads \(BenchResult.currentSchema)")
        }
        return result
    }
}

extension MachineFacts {
    /// This machine, now.
    static func current() -> MachineFacts {
        let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuInfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown"
        let commit = git(["rev-parse", "HEAD"])
        #if DEBUG
            let build = "debug"
        #else
            let build = "release"
        #endif
        return MachineFacts(
            cores: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model,
            kernel: kernel.trimmingCharacters(in: .whitespacesAndNewlines),
            date: ISO8601DateFormatter().string(from: Date()), gitCommit: commit,
            gitDirty: commit == nil ? nil : git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty },
            build: build)
    }

    /// What `git <arguments>` prints in the working directory, trimmed; nil when git fails.
    private static func git(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
