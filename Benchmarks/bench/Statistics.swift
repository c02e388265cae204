/// Median, extremes and percentiles of repeated measurements.
struct Summary {
    let sorted: [Double]

    init(_ values: [Double]) {
        precondition(!values.isEmpty, "no measurements")
        sorted = values.sorted()
    }

    var median: Double { percentile(50) }
    var min: Double { sorted[0] }
    var max: Double { sorted[sorted.count - 1] }

    /// Nearest-rank percentile.
    func percentile(_ p: Double) -> Double {
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
    }

    /// `median [min–max]` with `digits` decimals.
    func formatted(_ digits: Int) -> String {
        "\(format(median, digits)) [\(format(min, digits))–\(format(max, digits))]"
    }
}

func format(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = "\(rounded)"
    if digits == 0, text.hasSuffix(".0") { text.removeLast(2) }
    if let dot = text.firstIndex(of: "."), digits > 0 {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    }
    return text
}

func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
