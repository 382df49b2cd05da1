//===- SvgPlot.h - heatmaps and curves as self-contained SVG ----*- C++ -*-===//
//
// The plots mm-eval draws: a heatmap (passkey accuracy by length and depth)
// and curves (fidelity by distance). Each is one standalone SVG document
// (axes, ticks, labels, legend or colour scale), with every text
// XML-escaped; nothing beyond the standard library and llvm::ArrayRef.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_MMEVAL_SVGPLOT_H
#define MM_TOOLS_MMEVAL_SVGPLOT_H

#include "llvm/ADT/ArrayRef.h"

#include <string>
#include <vector>

namespace mm::eval {

/// A grid of values in [0, 1], coloured red (0) through yellow to green (1),
/// each cell labelled with its value. A value that is not finite is drawn
/// grey and labelled "n/a"; values outside [0, 1] are coloured as the
/// nearest end of the scale but labelled as they are.
struct Heatmap {
  std::string title, xLabel, yLabel;
  /// One label per row (drawn top to bottom) and per column.
  std::vector<std::string> rowLabels, colLabels;
  /// [row][col], 0..1. Rows may be shorter than colLabels (missing cells
  /// are drawn as not finite).
  std::vector<std::vector<double>> values;
};

/// The SVG document of `heatmap`.
std::string renderHeatmapSvg(const Heatmap &heatmap);

/// One line of a CurvePlot: points (x[i], y[i]); a point whose x or y is not
/// finite (or, on a log axis, whose y is not positive) breaks the line.
struct Curve {
  std::string label;
  std::vector<double> x, y;
};

/// Curves on shared axes, with a legend naming each.
struct CurvePlot {
  std::string title, xLabel, yLabel;
  /// A logarithmic y axis (ticks at powers of ten).
  bool logY = false;
  std::vector<Curve> curves;
};

/// The SVG document of `plot`.
std::string renderCurvesSvg(const CurvePlot &plot);

/// One SVG document holding `plots` one above the other (the document's
/// title is the first plot's).
std::string renderCurvePanelsSvg(llvm::ArrayRef<CurvePlot> plots);

} // namespace mm::eval

#endif // MM_TOOLS_MMEVAL_SVGPLOT_H
