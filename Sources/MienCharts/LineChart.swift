/// A line chart of named series with axes, legend and optional highlights: learning
/// curves (loss and accuracy per epoch) as well as ROC and precision–recall curves.
/// A description of the chart; `svg()` (in LineChartDrawing.swift) draws it.
public struct LineChart: SVGChart, Equatable {
    public var title: String
    public var xTitle: String
    public var yTitle: String
    public var series: [LineSeries]
    /// The size in px of the picture (and of its view box).
    public var width: Double
    public var height: Double
    /// Fixed axis ranges (e.g. accuracy 0...1); nil fits the data with nice round ends.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Whole-number x ticks only (epochs).
    public var integerX: Bool
    /// If set, a dashed y = x reference line (the ROC chance line), listed in the legend
    /// under this name (an empty name draws the line without a legend entry).
    public var diagonal: String?
    /// Same px per unit on both axes (a ROC square); the plot shrinks to keep it.
    public var equalAspect: Bool
    public var marks: [ChartMark]
    /// Text lines in a box in a corner of the plot, e.g. "AUC = 0.934".
    public var annotations: [String]
    public var annotationCorner: Corner

    public init(title: String = "", xTitle: String = "", yTitle: String = "", series: [LineSeries] = [],
                width: Double = 480, height: Double = 320,
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil, integerX: Bool = false,
                diagonal: String? = nil, equalAspect: Bool = false, marks: [ChartMark] = [],
                annotations: [String] = [], annotationCorner: Corner = .bottomRight) {
        self.title = title
        self.xTitle = xTitle
        self.yTitle = yTitle
        self.series = series
        self.width = width
        self.height = height
        self.xRange = xRange
        self.yRange = yRange
        self.integerX = integerX
        self.diagonal = diagonal
        self.equalAspect = equalAspect
        self.marks = marks
        self.annotations = annotations
        self.annotationCorner = annotationCorner
    }
}
