// A drawing surface for figures: Cairo for shapes, Pango for text, PNG or SVG from the same
// calls, written atomically (temporary name, then rename). Every text's box is recorded so tests
// (and finish()) can check that no label falls outside the canvas.
//
//   Canvas c(800, 600, ImageFormat::png);
//   c.fill_rect(10, 10, 100, 50, viridis(0.7));
//   c.text(60, 80, "L0H1", {.size = 11, .align = Align::center});
//   c.save("out/figure.png");            // throws Error if writing fails
//   int n = c.labels_outside();          // texts (partly) off the canvas: 0 for a good figure
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

enum class ImageFormat { png, svg };
// "png" / "svg"; throws Error naming the argument otherwise.
ImageFormat parse_image_format(const std::string& s);
const char* extension(ImageFormat f); // ".png" / ".svg"

struct Color {
    double r = 0, g = 0, b = 0, a = 1;
};
Color rgb(uint32_t hex, double alpha = 1.0);
// Perceptually uniform, colour-blind-safe sequential map (viridis), t in [0, 1].
Color viridis(double t);
// Okabe–Ito categorical colours (colour-blind safe), index taken modulo 8.
Color category(int k);

enum class Align { left, center, right };

struct TextStyle {
    double size = 10; // points (1 pt = 1 px here)
    Align align = Align::left;
    bool bold = false;
    bool vertical = false; // rotated 90 degrees counter-clockwise, anchored at (x, y) = baseline end
    Color color = {0.1, 0.1, 0.1, 1};
    double max_width = 0; // > 0: ellipsize to this width
};

struct TextBox {
    double x0, y0, x1, y1;
    std::string text;
};

class Canvas {
  public:
    Canvas(int width, int height, ImageFormat format);
    ~Canvas();
    Canvas(const Canvas&) = delete;
    Canvas& operator=(const Canvas&) = delete;

    int width() const { return width_; }
    int height() const { return height_; }

    void fill_rect(double x, double y, double w, double h, Color c);
    void stroke_rect(double x, double y, double w, double h, Color c, double line_width = 1);
    void line(double x0, double y0, double x1, double y1, Color c, double line_width = 1);
    void polyline(const std::vector<double>& xs, const std::vector<double>& ys, Color c, double line_width = 1.5);
    void circle(double x, double y, double r, Color c);
    // Text with its top at y (horizontal) and aligned at x; returns its box.
    TextBox text(double x, double y, const std::string& s, const TextStyle& style = {});
    // Width and height the text would take.
    std::pair<double, double> measure(const std::string& s, const TextStyle& style = {}) const;

    // An image (row-major RGB bytes, w x h) drawn scaled into (x, y, dw, dh) without smoothing.
    void image(const std::vector<uint8_t>& rgb, int w, int h, double x, double y, double dw, double dh);

    const std::vector<TextBox>& texts() const { return texts_; }
    int labels_outside() const;

    // Write the figure (PNG or SVG by the constructor's format) to path, atomically.
    void save(const std::string& path);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int width_, height_;
    ImageFormat format_;
    std::vector<TextBox> texts_;
};

} // namespace attnscope
