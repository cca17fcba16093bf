// Canvas: a Cairo surface (image for PNG, recording-to-buffer SVG surface for SVG) with Pango
// laying out text in DejaVu Sans. Output goes to an in-memory buffer first and then to disk
// through write_file_atomic, so a figure never exists half-written under its final name.
#include "render/canvas.h"

#include "core/error.h"
#include "core/files.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <cmath>

namespace attnscope {

ImageFormat parse_image_format(const std::string& s) {
    if (s == "png" || s.empty()) return ImageFormat::png;
    if (s == "svg") return ImageFormat::svg;
    throw Error(cat("--format: expected png or svg, found '", s, "'"));
}

const char* extension(ImageFormat f) {
    return f == ImageFormat::svg ? ".svg" : ".png";
}

Color rgb(uint32_t hex, double alpha) {
    return {double((hex >> 16) & 0xff) / 255.0, double((hex >> 8) & 0xff) / 255.0, double(hex & 0xff) / 255.0, alpha};
}

Color viridis(double t) {
    // nine stops of the viridis map, linearly interpolated (well under one 8-bit step off)
    static const uint32_t stops[] = {0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c,
                                     0x28ae80, 0x5ec962, 0xaadc32, 0xfde725};
    if (!(t >= 0)) t = 0; // NaN too
    if (t > 1) t = 1;
    const double x = t * 8.0;
    const int k = std::min(7, int(x));
    const double f = x - k;
    const Color a = rgb(stops[k]), b = rgb(stops[k + 1]);
    return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f, 1};
}

Color category(int k) {
    static const uint32_t okabe_ito[] = {0x0072B2, 0xE69F00, 0x009E73, 0xCC79A7,
                                         0x56B4E9, 0xD55E00, 0xF0E442, 0x999999};
    return rgb(okabe_ito[((k % 8) + 8) % 8]);
}

struct Canvas::Impl {
    cairo_surface_t* surface = nullptr;
    cairo_t* cr = nullptr;
    std::string svg; // the SVG surface streams here
};

static cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

Canvas::Canvas(int width, int height, ImageFormat format)
    : impl_(std::make_unique<Impl>()), width_(width), height_(height), format_(format) {
    if (width < 1 || height < 1 || width > 32768 || height > 32768)
        throw Error(cat("figure size ", width, " x ", height, " is outside 1..32768"));
    if (format == ImageFormat::svg)
        impl_->surface = cairo_svg_surface_create_for_stream(append_to_string, &impl_->svg, width, height);
    else
        impl_->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (cairo_surface_status(impl_->surface) != CAIRO_STATUS_SUCCESS)
        throw Error(cat("cannot create a ", width, " x ", height,
                        " figure: ", cairo_status_to_string(cairo_surface_status(impl_->surface))));
    impl_->cr = cairo_create(impl_->surface);
    fill_rect(0, 0, width, height, {1, 1, 1, 1});
}

Canvas::~Canvas() {
    if (impl_->cr) cairo_destroy(impl_->cr);
    if (impl_->surface) cairo_surface_destroy(impl_->surface);
}

static void set_color(cairo_t* cr, Color c) {
    cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a);
}

void Canvas::fill_rect(double x, double y, double w, double h, Color c) {
    set_color(impl_->cr, c);
    cairo_rectangle(impl_->cr, x, y, w, h);
    cairo_fill(impl_->cr);
}

void Canvas::stroke_rect(double x, double y, double w, double h, Color c, double lw) {
    set_color(impl_->cr, c);
    cairo_set_line_width(impl_->cr, lw);
    cairo_rectangle(impl_->cr, x, y, w, h);
    cairo_stroke(impl_->cr);
}

void Canvas::line(double x0, double y0, double x1, double y1, Color c, double lw) {
    set_color(impl_->cr, c);
    cairo_set_line_width(impl_->cr, lw);
    cairo_move_to(impl_->cr, x0, y0);
    cairo_line_to(impl_->cr, x1, y1);
    cairo_stroke(impl_->cr);
}

void Canvas::polyline(const std::vector<double>& xs, const std::vector<double>& ys, Color c, double lw) {
    if (xs.size() < 2 || xs.size() != ys.size()) return;
    set_color(impl_->cr, c);
    cairo_set_line_width(impl_->cr, lw);
    cairo_set_line_join(impl_->cr, CAIRO_LINE_JOIN_ROUND);
    cairo_move_to(impl_->cr, xs[0], ys[0]);
    for (size_t k = 1; k < xs.size(); ++k)
        cairo_line_to(impl_->cr, xs[k], ys[k]);
    cairo_stroke(impl_->cr);
}

void Canvas::circle(double x, double y, double r, Color c) {
    set_color(impl_->cr, c);
    cairo_arc(impl_->cr, x, y, r, 0, 2 * M_PI);
    cairo_fill(impl_->cr);
}

namespace {

PangoLayout* make_layout(cairo_t* cr, const std::string& s, const TextStyle& st) {
    PangoLayout* layout = pango_cairo_create_layout(cr);
    PangoFontDescription* fd = pango_font_description_from_string("DejaVu Sans");
    pango_font_description_set_absolute_size(fd, st.size * PANGO_SCALE);
    if (st.bold) pango_font_description_set_weight(fd, PANGO_WEIGHT_BOLD);
    pango_layout_set_font_description(layout, fd);
    pango_font_description_free(fd);
    // Pango wants valid UTF-8; token strings are already display strings, but be safe
    const char* end = nullptr;
    if (g_utf8_validate(s.data(), gssize(s.size()), &end))
        pango_layout_set_text(layout, s.data(), int(s.size()));
    else
        pango_layout_set_text(layout, "?", 1);
    if (st.max_width > 0) {
        pango_layout_set_width(layout, int(st.max_width * PANGO_SCALE));
        pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
    }
    return layout;
}

} // namespace

std::pair<double, double> Canvas::measure(const std::string& s, const TextStyle& st) const {
    PangoLayout* layout = make_layout(impl_->cr, s, st);
    PangoRectangle logical;
    pango_layout_get_pixel_extents(layout, nullptr, &logical);
    g_object_unref(layout);
    return {double(logical.width), double(logical.height)};
}

TextBox Canvas::text(double x, double y, const std::string& s, const TextStyle& st) {
    cairo_t* cr = impl_->cr;
    PangoLayout* layout = make_layout(cr, s, st);
    PangoRectangle logical;
    pango_layout_get_pixel_extents(layout, nullptr, &logical);
    const double w = logical.width, h = logical.height;
    const double shift = st.align == Align::center ? w / 2 : st.align == Align::right ? w : 0;
    TextBox box{};
    cairo_save(cr);
    set_color(cr, st.color);
    if (!st.vertical) {
        cairo_move_to(cr, x - shift, y);
        box = {x - shift, y, x - shift + w, y + h, s};
    } else {
        // rotated: the text runs upwards; "align" applies along the (vertical) run; x is its top edge
        cairo_translate(cr, x, y + shift);
        cairo_rotate(cr, -M_PI / 2);
        cairo_move_to(cr, 0, 0);
        box = {x, y + shift - w, x + h, y + shift, s};
    }
    pango_cairo_show_layout(cr, layout);
    cairo_restore(cr);
    g_object_unref(layout);
    texts_.push_back(box);
    return box;
}

void Canvas::image(const std::vector<uint8_t>& rgb_bytes, int w, int h, double x, double y, double dw, double dh) {
    if (w < 1 || h < 1 || rgb_bytes.size() != size_t(w) * size_t(h) * 3) throw Error("image: size mismatch");
    cairo_surface_t* img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_surface_flush(img);
    unsigned char* data = cairo_image_surface_get_data(img);
    const int stride = cairo_image_surface_get_stride(img);
    for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c) {
            const uint8_t* p = &rgb_bytes[(size_t(r) * size_t(w) + size_t(c)) * 3];
            uint32_t* px = reinterpret_cast<uint32_t*>(data + r * stride) + c;
            *px = (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | uint32_t(p[2]);
        }
    cairo_surface_mark_dirty(img);
    cairo_t* cr = impl_->cr;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, dw / w, dh / h);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
}

int Canvas::labels_outside() const {
    int n = 0;
    for (const auto& t : texts_)
        if (t.x0 < -0.5 || t.y0 < -0.5 || t.x1 > width_ + 0.5 || t.y1 > height_ + 0.5) ++n;
    return n;
}

void Canvas::save(const std::string& path) {
    std::string bytes;
    if (format_ == ImageFormat::svg) {
        cairo_destroy(impl_->cr);
        impl_->cr = nullptr;
        cairo_surface_finish(impl_->surface);
        bytes = impl_->svg;
        // a finished surface cannot be drawn on again: make a fresh context for any later call
        cairo_surface_destroy(impl_->surface);
        impl_->svg.clear();
        impl_->surface = cairo_svg_surface_create_for_stream(append_to_string, &impl_->svg, width_, height_);
        impl_->cr = cairo_create(impl_->surface);
    } else {
        cairo_surface_flush(impl_->surface);
        const cairo_status_t st = cairo_surface_write_to_png_stream(impl_->surface, append_to_string, &bytes);
        if (st != CAIRO_STATUS_SUCCESS) throw Error(cat(path, ": cannot encode the PNG: ", cairo_status_to_string(st)));
    }
    write_file_atomic(path, bytes);
}

} // namespace attnscope
