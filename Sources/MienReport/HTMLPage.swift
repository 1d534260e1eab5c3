import MienCharts
import Foundation
import MienImages
import MienTraining

/// `report.html`: one self-contained page (inline SVG charts, faces as PNG data URIs, no
/// script, no network) that shows what `ReportData` holds.
struct HTMLPage {
    var data: ReportData
    var charts: ReportCharts
    /// The gallery's faces with their pixels, in `data.gallery` order.
    var gallery: Gallery

    func render() throws -> String {
        var body = header()
        body += section("Learning curves", learningCurves())
        body += section("Classification report", classificationReport())
        body += section("Confusion matrix", figure("confusion_matrix.svg",
                        caption: "Rows: true class; columns: predicted class. Each cell: the count and its share of the row."))
        if data.curves != nil { body += section("ROC and precision–recall", curves()) }
        body += section("Faces", try faces())
        body += section("Run", run())
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(escape("Mien report: " + fileName(data.run.model)))</title>
            <style>\(Self.css)</style>
            </head>
            <body>
            \(body)
            </body>
            </html>

            """
    }

    // MARK: Sections

    func header() -> String {
        let r = data.classificationReport
        var cards = [("accuracy", percent(r.accuracy)), ("balanced accuracy", decimal(r.balancedAccuracy))]
        if let auc = data.curves?.roc.auc { cards.append(("ROC AUC", decimal(auc))) }
        cards.append(("faces", "\(data.run.counts.reduce(0, +))"))
        return """
            <header>
            <h1>\(escape(fileName(data.run.model)))</h1>
            <p class="subtitle">\(escape(data.run.classes.joined(separator: " · "))) — measured on \
            \(escape(data.run.dataRole)) faces: <code>\(escape(data.run.data))</code></p>
            <div class="cards">\(cards.map { "<div class=\"card\"><b>\($1)</b><span>\(escape($0))</span></div>" }.joined())</div>
            </header>

            """
    }

    func learningCurves() -> String {
        guard let history = data.history, !history.epochs.isEmpty else {
            return "<p class=\"note\">The model records no training history (it was not trained by <code>mien train</code>).</p>"
        }
        var text = figure("loss.svg", caption: nil) + figure("accuracy.svg", caption: nil)
        // Stage 2 may keep its most accurate epoch (--fine-tune-monitor val_accuracy).
        let byAccuracy = data.run.training?.settings.fineTune?.monitor == .valAccuracy
        let best = history.bestEpoch.map { epoch in
            let inSecondStage = history.epochs.first { $0.epoch == epoch }?.stage == 2
            let measure = inSecondStage && byAccuracy ? "the highest validation accuracy of stage 2" : "the lowest validation loss"
            return " The weights kept are those of epoch \(epoch), \(measure) (dashed line)."
        } ?? ""
        let second = history.epochs.filter { $0.stage == 2 }.map(\.epoch)
        let stages = second.first.map { first in
            " Epochs 1–\(first - 1) trained the head on the frozen backbone (stage 1); epochs \(first)–\(second.last!) fine-tuned the backbone's top with it (stage 2, after the line so marked)."
        } ?? ""
        text += "<p class=\"note\">\(history.epochs.count) epoch\(history.epochs.count == 1 ? "" : "s"); training values are measured during each epoch (dropout on), validation values after it.\(stages)\(best)</p>"
        return "<div class=\"row\">\(text)</div>"
    }

    func classificationReport() -> String {
        let r = data.classificationReport
        func cell(_ value: Double, undefined: Bool) -> String {
            undefined ? "<td class=\"undefined\" title=\"ill-defined: set to 0, as scikit-learn's zero_division\">0.00*</td>"
                      : "<td>\(String(format: "%.2f", value))</td>"
        }
        var rows = r.classes.map { c in
            "<tr><th>\(escape(c.name))</th>" + cell(c.precision, undefined: c.undefined.contains("precision"))
                + cell(c.recall, undefined: c.undefined.contains("recall")) + cell(c.f1, undefined: c.undefined.contains("f1"))
                + "<td>\(c.support)</td></tr>"
        }
        let total = r.weightedAverage.support
        rows.append("<tr class=\"gap\"><th>accuracy</th><td></td><td></td><td>\(String(format: "%.2f", r.accuracy))</td><td>\(total)</td></tr>")
        for (name, a) in [("macro avg", r.macroAverage), ("weighted avg", r.weightedAverage)] {
            rows.append("<tr><th>\(name)</th><td>\(String(format: "%.2f", a.precision))</td><td>\(String(format: "%.2f", a.recall))</td><td>\(String(format: "%.2f", a.f1))</td><td>\(a.support)</td></tr>")
        }
        var notes: [String] = []
        if r.classes.contains(where: { !$0.undefined.isEmpty }) {
            notes.append("* ill-defined (a class never predicted, or without faces): shown as 0, as scikit-learn's <code>zero_division</code> default does.")
        }
        notes.append("Balanced accuracy (mean recall over classes with faces): \(decimal(r.balancedAccuracy)).")
        return """
            <div class="row">
            <table class="report"><thead><tr><th></th><th>precision</th><th>recall</th><th>f1-score</th><th>support</th></tr></thead>
            <tbody>\(rows.joined())</tbody></table>
            <pre class="sklearn">\(escape(r.text))</pre>
            </div>
            <p class="note">\(notes.joined(separator: " "))</p>

            """
    }

    func curves() -> String {
        guard let curves = data.curves else { return "" }
        let classes = data.run.classes
        let point = curves.operatingPoint
        var text = "<div class=\"row\">" + figure("roc.svg", caption: nil) + figure("precision_recall.svg", caption: nil) + "</div>"
        if !curves.roc.isDefined {
            text += "<p class=\"note\">The faces hold one class only: the ROC curve and its area are undefined.</p>"
        }
        let positive = classes.count > 1 ? classes[1] : "positive"
        let negative = classes.first ?? "negative"
        var facts: [String] = []
        if let tpr = point.truePositiveRate { facts.append("\(escape(positive)) recall \(decimal(tpr))") }
        if let precision = point.precision { facts.append("\(escape(positive)) precision \(decimal(precision))") }
        if let fpr = point.falsePositiveRate { facts.append("\(escape(negative)) recall \(decimal(1 - fpr))") }
        text += "<p class=\"note\">A face is <b>\(escape(positive))</b> when its score is at least <b>\(ChartText.number(point.threshold))</b> (the dot; change it with <code>--threshold</code>)"
            + (facts.isEmpty ? "" : ": " + facts.joined(separator: ", "))
            + ". Lowering the threshold trades \(escape(negative)) recall for \(escape(positive)) recall.</p>"
        return text
    }

    func faces() throws -> String {
        let classes = data.run.classes
        var text = "<p class=\"note\">Misclassified faces first (red, surest mistakes first), then correct ones spread over the data. Each face is shown at 2× without smoothing.</p>"
        text += "<div class=\"gallery\">" + (try gallery.faces.map { try tile($0) }.joined()) + "</div>"
        for (c, mistakes) in gallery.worstMistakes.enumerated() where !mistakes.isEmpty && c < classes.count {
            text += "<h3>Surest mistakes on \(escape(classes[c])) faces</h3>"
            text += "<div class=\"gallery\">" + (try mistakes.map { try tile($0) }.joined()) + "</div>"
        }
        if gallery.faces.isEmpty { text += "<p class=\"note\">No faces.</p>" }
        return text
    }

    func tile(_ face: ScoredFace) throws -> String {
        let classes = data.run.classes
        func name(_ c: Int) -> String { c < classes.count ? classes[c] : "class \(c)" }
        let png = try PNGEncoder.encode(Image(width: face.side, height: face.side, channels: 1, pixels: face.pixels))
        let mark = face.isCorrect ? "" : "✗ "
        return """
            <figure class="\(face.isCorrect ? "right" : "wrong")" title="\(escape(face.source))">\
            <img src="data:image/png;base64,\(Data(png).base64EncodedString())" width="\(face.side * 2)" height="\(face.side * 2)" alt="">\
            <figcaption>\(mark)true <b>\(escape(name(face.truth)))</b><br>pred <b>\(escape(name(face.predicted)))</b> \
            \(String(format: "%.2f", face.confidence))</figcaption></figure>
            """
    }

    func run() -> String {
        let r = data.run
        var rows: [(String, String)] = [
            ("model file", "<code>\(escape(r.model))</code>"),
            ("measured on", "<code>\(escape(r.data))</code> (\(escape(r.dataRole)))"),
            ("faces per class", zip(r.classes, r.counts).map { "\(escape($0)) \($1)" }.joined(separator: ", ")),
            ("threshold", ChartText.number(Double(r.threshold))),
            ("test-time augmentation", r.testTimeAugmentation.map { $0 == "mirror" ? "mirror (the mean of the face's and its mirror image's outputs)" : $0 } ?? "none"),
            ("evaluation time", String(format: "%.1f s", r.evaluationSeconds)),
        ]
        if let t = r.training {
            let s = t.settings
            rows += [
                ("backbone", "<code>\(escape(s.backbone))</code>" + (s.featuresFrom.map { " up to <code>\(escape($0))</code>" } ?? "")),
                ("head", "<code>\(escape(s.head))</code>"),
                ("trained on", "<code>\(escape(t.data))</code>" + (t.classCounts.map { counts in
                    " (" + zip(s.classes, counts).map { "\(escape($0)) \($1)" }.joined(separator: ", ") + ")"
                } ?? "")),
                ("input size", "\(s.inputSize)×\(s.inputSize)"),
                ("epochs", "\(data.history?.epochs.count ?? 0) of at most \(s.epochs)"
                    + (s.patience.map { ", early stopping patience \($0)" } ?? "")),
                ("optimizer", "\(s.optimizer), learning rate \(s.learningRate), batch \(s.batchSize)"),
                ("stage 2", s.fineTune.map { f in
                    "from <code>\(escape(f.from))</code>, learning rate \(f.learningRate), at most \(f.epochs) epochs, "
                        + "BatchNormalization \(f.trainBatchNorm ? "trained" : "frozen"), best epoch by \((f.monitor ?? .valLoss).rawValue)"
                } ?? "none"),
                ("class weight", s.classWeight),
                ("augmentation", s.augmentation == .none ? "none" : "on, \(s.cachedViews) cached views"),
                ("validation split", "\(s.validationSplit), seed \(s.seed)"),
                ("training time", t.seconds.map { String(format: "%.1f s", $0) } ?? "not recorded"),
            ]
        }
        rows.append(("Mien", r.mienVersion))
        return "<table class=\"run\">" + rows.map { "<tr><th>\($0)</th><td>\($1)</td></tr>" }.joined() + "</table>"
    }

    // MARK: Pieces

    func section(_ title: String, _ content: String) -> String {
        "<section><h2>\(escape(title))</h2>\n\(content)\n</section>\n"
    }

    func figure(_ file: String, caption: String?) -> String {
        guard let chart = charts.chart(file) else { return "" }
        let note = caption.map { "<figcaption>\(escape($0))</figcaption>" } ?? ""
        return "<figure class=\"chart\">\(chart.svg().render())\(note)</figure>"
    }

    func fileName(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }
    func percent(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
    func decimal(_ value: Double) -> String { String(format: "%.3f", value) }

    static let css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1120px;color:#222;padding:0 16px}
        h1{margin:0 0 4px;font-size:26px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}h3{font-size:16px;margin:18px 0 6px}
        .subtitle{color:#555;margin:0 0 12px}.note{color:#555;font-size:14px}
        .cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:8px;padding:8px 14px;min-width:120px}
        .card b{display:block;font-size:22px}.card span{color:#555;font-size:13px}
        .row{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}figure{margin:0}
        figure.chart figcaption{color:#555;font-size:13px;max-width:480px}
        table{border-collapse:collapse;font-size:14px}th,td{padding:3px 10px;text-align:right}th{font-weight:600}
        table.report thead th{border-bottom:1px solid #999}table.report tbody th{text-align:left}tr.gap th,tr.gap td{padding-top:12px}
        td.undefined{color:#b00}pre.sklearn{background:#f6f6f6;padding:10px 14px;border-radius:6px;font-size:13px;margin:0}
        table.run th{text-align:left;color:#555;font-weight:500}table.run td{text-align:left}
        .gallery{display:flex;flex-wrap:wrap;gap:8px}
        .gallery figure{border:3px solid #2a9d3f;border-radius:4px;padding:2px;width:100px;font-size:11px;line-height:1.3}
        .gallery figure.wrong{border-color:#d62828;background:#fff0f0}
        .gallery img{display:block;image-rendering:pixelated;image-rendering:crisp-edges}
        code{font-size:13px}
        """
}

/// Text for HTML element content and attribute values: the SVG writer's XML escaping,
/// which HTML reads the same way.
func escape(_ text: String) -> String { SVGFormat.escape(text) }
