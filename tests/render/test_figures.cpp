// Figures of the built-in model and of synthetic patterns: right size, not blank, every label
// inside the canvas, PNG and SVG from the same code, long sequences aggregated.
#include "api/runner.h"
#include "render/figures.h"
#include "render/viewer.h"
#include "test_util.h"

#include <cairo.h>

#include <cmath>
#include <filesystem>
#include <set>

using namespace attnscope;

namespace {

const std::string kTiny = std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny";

struct Decoded {
    int width = 0, height = 0;
    double non_white = 0; // share of pixels that are not white
    size_t colours = 0;   // distinct colours (capped count)
};

Decoded decode_png(const std::string& path) {
    cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
    EXPECT_EQ(cairo_surface_status(s), CAIRO_STATUS_SUCCESS) << path;
    Decoded d;
    d.width = cairo_image_surface_get_width(s);
    d.height = cairo_image_surface_get_height(s);
    const unsigned char* data = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    std::set<uint32_t> colours;
    size_t non_white = 0;
    for (int y = 0; y < d.height; ++y)
        for (int x = 0; x < d.width; ++x) {
            const uint32_t px = reinterpret_cast<const uint32_t*>(data + y * stride)[x] & 0xffffff;
            if (px != 0xffffff) ++non_white;
            if (colours.size() < 5000) colours.insert(px);
        }
    d.non_white = double(non_white) / double(std::max(1, d.width * d.height));
    d.colours = colours.size();
    cairo_surface_destroy(s);
    return d;
}

class Figures : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = new test::TempDir();
        Runner runner(kTiny);
        runner.run_with_hooks(
            runner.prepare_data({"The State of the Union is strong, and the people of this nation have "
                                 "built it with their own hands.",
                                 "Peace and war. Peace and war. Peace and war."}),
            dir_->file("cap"));
        reader_ = new CaptureReader(dir_->file("cap"));
        result_ = new AnalysisResult(AttentionDataAnalyzer(dir_->file("cap")).analyze());
    }
    static void TearDownTestSuite() {
        delete result_;
        delete reader_;
        delete dir_;
    }
    static test::TempDir* dir_;
    static CaptureReader* reader_;
    static AnalysisResult* result_;
};
test::TempDir* Figures::dir_ = nullptr;
CaptureReader* Figures::reader_ = nullptr;
AnalysisResult* Figures::result_ = nullptr;

} // namespace

TEST_F(Figures, EveryFigureIsDrawnWhollyInsideItsCanvas) {
    struct Case {
        std::string name;
        std::function<int(const std::string&)> draw;
        int min_w, min_h;
        double min_ink; // share of non-white pixels (line plots have little)
    };
    const std::vector<Case> cases = {
        {"flow.png", [&](const std::string& p) { return render_flow(*result_, p); }, 1000, 700, 0.02},
        {"dashboard.png", [&](const std::string& p) { return render_dashboard(*result_, p); }, 1400, 1100, 0.2},
        {"weights.png", [&](const std::string& p) { return render_attention_weights(*reader_, 0, 1, 2, result_, p); },
         400, 400, 0.2},
        {"grid.png", [&](const std::string& p) { return render_heads_grid(*reader_, 1, result_, p); }, 400, 400, 0.2},
    };
    for (const auto& c : cases) {
        const std::string path = dir_->file(c.name);
        EXPECT_EQ(c.draw(path), 0) << c.name << ": labels outside the canvas";
        const Decoded d = decode_png(path);
        EXPECT_GE(d.width, c.min_w) << c.name;
        EXPECT_GE(d.height, c.min_h) << c.name;
        EXPECT_GT(d.non_white, c.min_ink) << c.name << " is (nearly) blank";
        EXPECT_GT(d.colours, 20u) << c.name << " has almost no colours";
    }
}

TEST_F(Figures, SvgFromTheSameDrawing) {
    const std::string path = dir_->file("dashboard.svg");
    EXPECT_EQ(render_dashboard(*result_, path), 0);
    const std::string svg = test::read_file(path);
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    EXPECT_NE(svg.find("<svg"), std::string::npos);
    EXPECT_GT(svg.size(), 10000u);
    test::expect_error([&] { render_flow(*result_, dir_->file("flow.jpg")); }, {"flow.jpg", ".png or .svg"});
}

TEST_F(Figures, LongSequencesAreAggregatedAndHostileTokensAreJustText) {
    const int64_t T = 700;
    std::vector<float> p(size_t(T * T), 0.0f);
    for (int64_t i = 0; i < T; ++i)
        p[size_t(i * T + (i ? i - 1 : 0))] = 1.0f; // previous-token diagonal
    std::vector<std::string> tokens;
    for (int64_t i = 0; i < T; ++i)
        tokens.push_back(i % 7 == 0    ? "</script><img onerror=alert(1)>"
                         : i % 11 == 0 ? std::string("\xff\xfe")
                                       : "tok");
    const std::string path = dir_->file("long.png");
    EXPECT_EQ(render_attention_weights(TensorView::contiguous(p.data(), {T, T}), tokens, "long", "a\nb", path), 0);
    const Decoded d = decode_png(path);
    EXPECT_LE(d.width, 1400);
    EXPECT_GT(d.non_white, 0.3);
}

TEST_F(Figures, BadRequestsAreClearErrors) {
    test::expect_error([&] { render_attention_weights(*reader_, 0, 9, 0, result_, dir_->file("x.png")); },
                       {"--layer: 9 is outside 0..3"});
    test::expect_error([&] { render_attention_weights(*reader_, 5, 0, 0, result_, dir_->file("x.png")); },
                       {"sequence 5 does not exist"});
}

namespace {

std::vector<uint8_t> base64_decode(const std::string& s) {
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        int v = c >= 'A' && c <= 'Z' ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '+' ? 62
                : c == '/' ? 63
                           : -1;
        if (v < 0) continue; // padding
        acc = (acc << 6) | uint32_t(v), bits += 6;
        if (bits >= 8) bits -= 8, out.push_back(uint8_t(acc >> bits));
    }
    return out;
}

// The data object of a viewer page.
nlohmann::json viewer_data(const std::string& path) {
    const std::string html = test::read_file(path);
    const std::string open = "id=\"attnscope-data\">";
    const size_t a = html.find(open) + open.size(), b = html.find("</script>", a);
    return nlohmann::json::parse(html.substr(a, b - a));
}

} // namespace

// The page stays within its size limit by averaging patterns in token blocks, and the averaged
// cells are the block means of the captured pattern.
TEST_F(Figures, ViewerFitsItsSizeLimitWithBlockAverages) {
    const std::string path = dir_->file("view.html");
    const ViewerStats full = write_viewer(*reader_, result_, path, {});
    EXPECT_EQ(full.max_block, 1);
    ViewerOptions small;
    small.max_bytes = full.bytes - 600;
    const ViewerStats st = write_viewer(*reader_, result_, path, small);
    EXPECT_LE(st.bytes, small.max_bytes);
    EXPECT_EQ(st.bytes, int64_t(std::filesystem::file_size(path)));
    EXPECT_GT(st.max_block, 1);
    const nlohmann::json d = viewer_data(path);
    const nlohmann::json& s0 = d["sequences"][0];
    const int64_t T = reader_->sequence(0).length, B = s0["block"], n = s0["n"];
    ASSERT_GT(B, 1);
    EXPECT_EQ(n, (T + B - 1) / B);
    const std::vector<uint8_t> bytes = base64_decode(s0["patterns"]);
    const int64_t n_heads = 4 * 4, tri = n * (n + 1) / 2;
    ASSERT_EQ(int64_t(bytes.size()), n_heads * tri);
    const Captured p = reader_->read(0, "blocks.1.attn.hook_pattern"); // layer 1: heads 4..7 of the page
    for (int64_t h = 0; h < 4; ++h) {
        const std::vector<double> cell =
            block_average(TensorView::contiguous(const_cast<float*>(p.data.data()) + h * T * T, {T, T}), B);
        const uint8_t* q = &bytes[size_t((4 + h) * tri)];
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j <= i; ++j)
                ASSERT_EQ(int(*q++), int(std::lround(255 * std::sqrt(cell[size_t(i * n + j)])))) << h << " " << i << " " << j;
    }
    // a limit nothing fits in is refused, saying what to do
    small.max_bytes = 1000;
    test::expect_error([&] { write_viewer(*reader_, result_, path, small); }, {"do not fit", "--sequences"});
}
