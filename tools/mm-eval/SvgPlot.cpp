//===- SvgPlot.cpp - heatmaps and curves as self-contained SVG ------------===//
//
// Plain string building: a fixed layout in SVG user units (the viewer
// scales it), text in the generic sans-serif font, sizes estimated from the
// character count (no font metrics are available here).
//
//===----------------------------------------------------------------------===//

#include "tools/mm-eval/SvgPlot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

using namespace mm::eval;

namespace {

/// `text` with the five XML special characters escaped and control
/// characters (not allowed in XML 1.0) dropped.
std::string escapeXml(const std::string &text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&apos;";
      break;
    default:
      if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n')
        out += c;
    }
  }
  return out;
}

/// A number for an SVG attribute: fixed point, two decimals.
std::string num(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", v);
  return buffer;
}

/// A tick or cell label: up to 4 significant digits, no trailing zeros.
std::string label(double v) {
  if (!std::isfinite(v))
    return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", v);
  return buffer;
}

/// Approximate width of `text` at `size` (average glyph width 0.6 em).
double textWidth(const std::string &text, double size) {
  return 0.6 * size * static_cast<double>(text.size());
}

/// `<text>` at (x, y); `anchor` is start, middle or end.
void text(std::ostringstream &os, double x, double y, const std::string &s,
          double size, const char *anchor, const std::string &extra = "") {
  os << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" font-size=\""
     << num(size) << "\" text-anchor=\"" << anchor << "\"" << extra << ">"
     << escapeXml(s) << "</text>\n";
}

/// The document's opening: size, font, white background.
void open(std::ostringstream &os, double width, double height,
          const std::string &title) {
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width)
     << "\" height=\"" << num(height) << "\" viewBox=\"0 0 " << num(width)
     << " " << num(height) << "\" font-family=\"sans-serif\">\n"
     << "<title>" << escapeXml(title) << "</title>\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

/// The colour of `v` on the scale red (0), yellow (0.5), green (1); grey
/// when not finite.
std::string scaleColour(double v) {
  if (!std::isfinite(v))
    return "#c8c8c8";
  v = std::clamp(v, 0.0, 1.0);
  // red (215, 48, 39) -> yellow (254, 224, 139) -> green (26, 152, 80)
  const double stops[3][3] = {{215, 48, 39}, {254, 224, 139}, {26, 152, 80}};
  int segment = v < 0.5 ? 0 : 1;
  double f = v < 0.5 ? v * 2 : (v - 0.5) * 2;
  char buffer[8];
  int rgb[3];
  for (int i = 0; i < 3; ++i)
    rgb[i] = static_cast<int>(std::lround(
        stops[segment][i] + f * (stops[segment + 1][i] - stops[segment][i])));
  std::snprintf(buffer, sizeof(buffer), "#%02x%02x%02x", rgb[0], rgb[1],
                rgb[2]);
  return buffer;
}

/// About `count` "nice" ticks (1, 2 or 5 times a power of ten apart) inside
/// [low, high], or, with `outer`, from the last tick at or below `low` to
/// the first at or above `high`.
std::vector<double> linearTicks(double low, double high, int count,
                                bool outer = false) {
  double span = high - low;
  double raw = span / std::max(1, count);
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  std::vector<double> ticks;
  const double first =
      outer ? std::floor(low / step + 1e-9) : std::ceil(low / step - 1e-9);
  const double last =
      outer ? std::ceil(high / step - 1e-9) : std::floor(high / step + 1e-9);
  for (double i = first; i <= last; ++i)
    ticks.push_back(i == 0 ? 0.0 : i * step);
  return ticks;
}

/// Colours of the curves, in order (a colour-blind-safe palette).
const char *const kPalette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                "#e69f00", "#56b4e9", "#f0e442", "#000000",
                                "#999999", "#882255"};

/// Curves with more points than this are drawn without markers.
constexpr size_t kMaxMarkedPoints = 80;

} // namespace

std::string mm::eval::renderHeatmapSvg(const Heatmap &map) {
  const double cellWidth = 64, cellHeight = 32, font = 13;
  const size_t rows = map.rowLabels.size(), cols = map.colLabels.size();
  double rowLabelWidth = 0;
  for (const std::string &s : map.rowLabels)
    rowLabelWidth = std::max(rowLabelWidth, textWidth(s, font));
  double colLabelWidth = 0;
  for (const std::string &s : map.colLabels)
    colLabelWidth = std::max(colLabelWidth, textWidth(s, font));
  // Column labels that do not fit their cell are drawn at 45 degrees.
  const bool slanted = colLabelWidth > cellWidth - 6;
  const double colLabelHeight = slanted ? colLabelWidth * 0.71 + 16 : 22;
  const double yAxisWidth = map.yLabel.empty() ? 10 : 30;
  const double left = yAxisWidth + rowLabelWidth + 10, top = 50;
  const double gridWidth = cellWidth * cols, gridHeight = cellHeight * rows;
  const double scaleHeight = std::max(gridHeight, 120.0);
  const double scaleLeft = left + gridWidth + 30, scaleWidth = 16;
  const double width =
      std::max(scaleLeft + scaleWidth + 50, 40 + textWidth(map.title, 16));
  const double xAxisBottom =
      top + gridHeight + colLabelHeight + (map.xLabel.empty() ? 0 : 24);
  const double height = std::max(xAxisBottom, top + scaleHeight + 20) + 16;

  std::ostringstream os;
  open(os, width, height, map.title);
  text(os, width / 2, 28, map.title, 16, "middle", " font-weight=\"bold\"");

  // The cells, each with its value.
  for (size_t r = 0; r < rows; ++r) {
    const double y = top + r * cellHeight;
    text(os, left - 8, y + cellHeight / 2 + font * 0.35, map.rowLabels[r], font,
         "end");
    for (size_t c = 0; c < cols; ++c) {
      const double v = r < map.values.size() && c < map.values[r].size()
                           ? map.values[r][c]
                           : NAN;
      const double x = left + c * cellWidth;
      os << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\""
         << num(cellWidth) << "\" height=\"" << num(cellHeight) << "\" fill=\""
         << scaleColour(v) << "\" stroke=\"white\"/>\n";
      text(os, x + cellWidth / 2, y + cellHeight / 2 + font * 0.35, label(v),
           font, "middle");
    }
  }
  // Column labels under the grid, slanted when long.
  for (size_t c = 0; c < cols; ++c) {
    const double x = left + (c + 0.5) * cellWidth, y = top + gridHeight + 16;
    if (slanted)
      text(os, x, y, map.colLabels[c], font, "end",
           " transform=\"rotate(-45 " + num(x) + " " + num(y) + ")\"");
    else
      text(os, x, y, map.colLabels[c], font, "middle");
  }
  // Axis titles.
  if (!map.xLabel.empty())
    text(os, left + gridWidth / 2, top + gridHeight + colLabelHeight + 16,
         map.xLabel, 14, "middle");
  if (!map.yLabel.empty()) {
    const double x = 18, y = top + gridHeight / 2;
    text(os, x, y, map.yLabel, 14, "middle",
         " transform=\"rotate(-90 " + num(x) + " " + num(y) + ")\"");
  }
  // The colour scale: a vertical gradient, 1 at the top.
  os << "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" "
        "y2=\"0\">\n";
  for (int i = 0; i <= 10; ++i)
    os << "<stop offset=\"" << num(i / 10.0) << "\" stop-color=\""
       << scaleColour(i / 10.0) << "\"/>\n";
  os << "</linearGradient></defs>\n";
  os << "<rect x=\"" << num(scaleLeft) << "\" y=\"" << num(top) << "\" width=\""
     << num(scaleWidth) << "\" height=\"" << num(scaleHeight)
     << "\" fill=\"url(#scale)\" stroke=\"#444\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = i / 4.0, y = top + (1 - v) * scaleHeight;
    os << "<line x1=\"" << num(scaleLeft + scaleWidth) << "\" y1=\"" << num(y)
       << "\" x2=\"" << num(scaleLeft + scaleWidth + 4) << "\" y2=\"" << num(y)
       << "\" stroke=\"#444\"/>\n";
    text(os, scaleLeft + scaleWidth + 7, y + 4, label(v), 11, "start");
  }
  os << "</svg>\n";
  return os.str();
}

namespace {

/// The elements of `plot` (without the document around them), whose size
/// goes to `width` and `height`.
std::string drawCurves(const CurvePlot &plot, double &width, double &height) {
  const double plotWidth = 560, plotHeight = 360, font = 12;
  // A point is drawn when it is finite (and positive on a log axis).
  auto drawable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!plot.logY || y > 0);
  };
  double xLow = INFINITY, xHigh = -INFINITY, yLow = INFINITY, yHigh = -INFINITY;
  for (const Curve &curve : plot.curves)
    for (size_t i = 0; i < std::min(curve.x.size(), curve.y.size()); ++i) {
      if (!drawable(curve.x[i], curve.y[i]))
        continue;
      const double y = plot.logY ? std::log10(curve.y[i]) : curve.y[i];
      xLow = std::min(xLow, curve.x[i]);
      xHigh = std::max(xHigh, curve.x[i]);
      yLow = std::min(yLow, y);
      yHigh = std::max(yHigh, y);
    }
  if (xLow > xHigh) { // Nothing to draw: unit axes.
    xLow = 0, xHigh = 1;
    yLow = plot.logY ? -1 : 0, yHigh = plot.logY ? 0 : 1;
  }
  if (xLow == xHigh)
    xLow -= 0.5, xHigh += 0.5;
  if (plot.logY) { // Whole decades.
    yLow = std::floor(yLow), yHigh = std::ceil(yHigh);
    if (yLow == yHigh)
      yLow -= 1;
  } else if (yLow == yHigh) {
    yLow -= yLow == 0 ? 1 : std::fabs(yLow) * 0.5;
    yHigh += yHigh == 0 ? 1 : std::fabs(yHigh) * 0.5;
  }
  std::vector<double> xTicks = linearTicks(xLow, xHigh, 8);
  std::vector<double> yTicks; // In axis units (log10 of y on a log axis).
  // A short log axis (two decades at most) gets ticks at 2 and 5 times each
  // power of ten too, labelled as plain numbers.
  const bool shortLog = plot.logY && yHigh - yLow <= 2;
  if (plot.logY) {
    const double step = std::ceil((yHigh - yLow) / 8);
    for (double t = yLow; t <= yHigh + 1e-9; t += step) {
      yTicks.push_back(t);
      if (shortLog && t + 1 <= yHigh + 1e-9)
        for (double m : {2.0, 5.0})
          yTicks.push_back(t + std::log10(m));
    }
  } else {
    yTicks = linearTicks(yLow, yHigh, 6, /*outer=*/true);
  }
  if (!plot.logY && !yTicks.empty()) { // Extend to the outer ticks.
    yLow = std::min(yLow, yTicks.front());
    yHigh = std::max(yHigh, yTicks.back());
  }
  auto yTickLabel = [&](double t) {
    if (!plot.logY || shortLog)
      return label(plot.logY ? std::pow(10.0, t) : t);
    return t == 0 ? std::string("1") : "1e" + label(t);
  };
  double yTickWidth = 0;
  for (double t : yTicks)
    yTickWidth = std::max(yTickWidth, textWidth(yTickLabel(t), font));
  double legendWidth = 0;
  for (const Curve &curve : plot.curves)
    legendWidth = std::max(legendWidth, textWidth(curve.label, font));
  const double left = 40 + yTickWidth + 8, top = 50;
  const double legendLeft = left + plotWidth + 20;
  width =
      std::max(legendLeft + (plot.curves.empty() ? 0 : 30 + legendWidth) + 10,
               40 + textWidth(plot.title, 16));
  const double legendHeight = 18.0 * plot.curves.size() + 10;
  height = top + std::max(plotHeight + 60, legendHeight + 10);
  auto px = [&](double x) {
    return left + (x - xLow) / (xHigh - xLow) * plotWidth;
  };
  auto py = [&](double y) {
    return top + (1 - (y - yLow) / (yHigh - yLow)) * plotHeight;
  };

  std::ostringstream os;
  text(os, width / 2, 28, plot.title, 16, "middle", " font-weight=\"bold\"");
  // Grid lines and ticks.
  for (double t : xTicks) {
    const double x = px(t);
    os << "<line x1=\"" << num(x) << "\" y1=\"" << num(top) << "\" x2=\""
       << num(x) << "\" y2=\"" << num(top + plotHeight + 5)
       << "\" stroke=\"#ddd\"/>\n";
    text(os, x, top + plotHeight + 19, label(t), font, "middle");
  }
  for (double t : yTicks) {
    const double y = py(t);
    os << "<line x1=\"" << num(left - 5) << "\" y1=\"" << num(y) << "\" x2=\""
       << num(left + plotWidth) << "\" y2=\"" << num(y)
       << "\" stroke=\"#ddd\"/>\n";
    text(os, left - 8, y + 4, yTickLabel(t), font, "end");
  }
  // The axes frame.
  os << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\""
     << num(plotWidth) << "\" height=\"" << num(plotHeight)
     << "\" fill=\"none\" stroke=\"#444\"/>\n";
  if (!plot.xLabel.empty())
    text(os, left + plotWidth / 2, top + plotHeight + 42, plot.xLabel, 14,
         "middle");
  if (!plot.yLabel.empty()) {
    const double x = 18, y = top + plotHeight / 2;
    text(os, x, y, plot.yLabel + (plot.logY ? " (log scale)" : ""), 14,
         "middle", " transform=\"rotate(-90 " + num(x) + " " + num(y) + ")\"");
  }
  // The curves: polylines broken at points that cannot be drawn, a marker
  // on every point unless they are too dense to see.
  for (size_t c = 0; c < plot.curves.size(); ++c) {
    const Curve &curve = plot.curves[c];
    const std::string colour =
        kPalette[c % (sizeof(kPalette) / sizeof(kPalette[0]))];
    std::vector<std::vector<std::pair<double, double>>> pieces(1);
    for (size_t i = 0; i < std::min(curve.x.size(), curve.y.size()); ++i) {
      if (!drawable(curve.x[i], curve.y[i])) {
        if (!pieces.back().empty())
          pieces.emplace_back();
        continue;
      }
      pieces.back().emplace_back(
          px(curve.x[i]), py(plot.logY ? std::log10(curve.y[i]) : curve.y[i]));
    }
    size_t points = 0;
    for (const auto &piece : pieces)
      points += piece.size();
    const bool markers = points <= kMaxMarkedPoints;
    os << "<g stroke=\"" << colour << "\" fill=\"" << colour << "\">\n";
    for (const auto &piece : pieces) {
      if (piece.size() > 1) {
        os << "<polyline fill=\"none\" stroke-width=\"2\" points=\"";
        for (size_t i = 0; i < piece.size(); ++i)
          os << (i ? " " : "") << num(piece[i].first) << ","
             << num(piece[i].second);
        os << "\"/>\n";
      }
      for (const auto &[x, y] : piece)
        if (markers)
          os << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y)
             << "\" r=\"2.5\"/>\n";
    }
    os << "</g>\n";
    // Its legend entry.
    const double y = top + 10 + 18.0 * c;
    os << "<line x1=\"" << num(legendLeft) << "\" y1=\"" << num(y) << "\" x2=\""
       << num(legendLeft + 22) << "\" y2=\"" << num(y) << "\" stroke=\""
       << colour << "\" stroke-width=\"2\"/>\n";
    text(os, legendLeft + 28, y + 4, curve.label, font, "start");
  }
  return os.str();
}

} // namespace

std::string mm::eval::renderCurvesSvg(const CurvePlot &plot) {
  double width, height;
  std::string body = drawCurves(plot, width, height);
  std::ostringstream os;
  open(os, width, height, plot.title);
  os << body << "</svg>\n";
  return os.str();
}

std::string mm::eval::renderCurvePanelsSvg(llvm::ArrayRef<CurvePlot> plots) {
  std::vector<std::string> bodies;
  std::vector<double> heights;
  double width = 0, height = 0;
  for (const CurvePlot &plot : plots) {
    double w, h;
    bodies.push_back(drawCurves(plot, w, h));
    heights.push_back(h);
    width = std::max(width, w);
    height += h;
  }
  std::ostringstream os;
  open(os, width, height, plots.empty() ? "" : plots.front().title);
  double y = 0;
  for (size_t i = 0; i < bodies.size(); ++i) {
    os << "<g transform=\"translate(0 " << num(y) << ")\">\n"
       << bodies[i] << "</g>\n";
    y += heights[i];
  }
  os << "</svg>\n";
  return os.str();
}
