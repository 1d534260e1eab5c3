/// A point in data coordinates.
public struct ChartPoint: Sendable, Hashable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }

    public var isFinite: Bool { x.isFinite && y.isFinite }
}

/// One named line of a `LineChart`, e.g. the validation loss per epoch.
public struct LineSeries: Sendable, Equatable {
    /// When to draw a dot at each point.
    public enum Markers: Sendable, Equatable {
        /// Dots for short series (up to 40 points, e.g. epochs), none for dense curves
        /// (ROC). A series with a single point always gets one, or it would be invisible.
        case automatic
        case always
        /// No dots, except for a lone point.
        case never
    }

    public var name: String
    /// Non-finite points are skipped when drawing.
    public var points: [ChartPoint]
    /// Nil: the chart's palette colour for this series' position.
    public var color: RGBColor?
    public var dashed: Bool
    public var markers: Markers

    public init(_ name: String, points: [ChartPoint], color: RGBColor? = nil,
                dashed: Bool = false, markers: Markers = .automatic) {
        self.name = name
        self.points = points
        self.color = color
        self.dashed = dashed
        self.markers = markers
    }

    /// Points from paired arrays (extra elements of the longer one are ignored).
    public init(_ name: String, x: [Double], y: [Double], color: RGBColor? = nil,
                dashed: Bool = false, markers: Markers = .automatic) {
        self.init(name, points: zip(x, y).map { ChartPoint(x: $0, y: $1) },
                  color: color, dashed: dashed, markers: markers)
    }

    /// One value per epoch, the first at x = `firstEpoch` (1, as Keras counts).
    public init(_ name: String, perEpoch values: [Double], firstEpoch: Int = 1, color: RGBColor? = nil,
                dashed: Bool = false, markers: Markers = .automatic) {
        self.init(name, points: values.enumerated().map { ChartPoint(x: Double(firstEpoch + $0.offset), y: $0.element) },
                  color: color, dashed: dashed, markers: markers)
    }

    /// The points that can be drawn.
    var finitePoints: [ChartPoint] { points.filter(\.isFinite) }

    func showsMarkers(finiteCount: Int) -> Bool {
        switch markers {
        case .always: return finiteCount > 0
        case .never: return finiteCount == 1
        case .automatic: return finiteCount > 0 && finiteCount <= 40
        }
    }
}

/// A highlighted place on a `LineChart`: a vertical line (e.g. "best epoch 7"), a dot
/// (e.g. the operating point "threshold 0.5" on a ROC curve), or both.
public struct ChartMark: Sendable, Equatable {
    public var x: Double
    /// Where to draw the dot; nil for none.
    public var y: Double?
    public var label: String
    public var verticalLine: Bool

    public init(x: Double, y: Double? = nil, label: String = "", verticalLine: Bool = false) {
        self.x = x
        self.y = y
        self.label = label
        self.verticalLine = verticalLine
    }

    /// A dashed vertical line at `x` with `label` at its top, and a dot at `y` if given.
    public static func vertical(at x: Double, y: Double? = nil, label: String) -> ChartMark {
        ChartMark(x: x, y: y, label: label, verticalLine: true)
    }

    /// A dot at (`x`, `y`) with `label` beside it.
    public static func point(x: Double, y: Double, label: String) -> ChartMark {
        ChartMark(x: x, y: y, label: label)
    }
}

/// A corner of the plot area.
public enum Corner: Sendable, Equatable {
    case topLeft, topRight, bottomLeft, bottomRight
}
