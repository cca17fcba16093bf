// The safetensors reader: good files read back exactly; each kind of bad file gets an Error
// that names the file (and tensor) and says what was expected. And the writer's pieces.
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "test_util.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace attnscope;
using namespace attnscope::test;
namespace fs = std::filesystem;

namespace {

std::string f32_bytes(std::initializer_list<float> v) {
    std::string s(v.size() * 4, '\0');
    size_t i = 0;
    for (float f : v)
        std::memcpy(&s[4 * i++], &f, 4);
    return s;
}

// Write a header + data and try to open it.
void open_bytes(const TempDir& dir, const std::string& bytes) {
    write_file(dir.file("t.safetensors"), bytes);
    SafetensorsFile st(dir.file("t.safetensors"));
}

} // namespace

TEST(Safetensors, ReadsF32ZeroCopyAndMetadata) {
    TempDir dir;
    std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}})";
    header += std::string((8 - header.size() % 8) % 8, ' ');
    write_file(dir.file("t.safetensors"), safetensors_bytes(header, f32_bytes({1, 2, 3, 4, -5})));
    SafetensorsFile st(dir.file("t.safetensors"));
    EXPECT_EQ(st.metadata().at("format"), "pt");
    ASSERT_EQ(st.tensors().size(), 2u);
    const TensorInfo* a = st.find("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
    std::vector<float> storage;
    const float* p = st.as_f32(*a, storage);
    EXPECT_TRUE(storage.empty()) << "aligned F32 must not be copied";
    EXPECT_EQ(reinterpret_cast<const uint8_t*>(p), st.raw(*a));
    EXPECT_EQ(p[3], 4.0f);
    EXPECT_EQ(st.as_f32(*st.find("b"), storage)[0], -5.0f);
    EXPECT_EQ(st.find("c"), nullptr);
}

TEST(Safetensors, ConvertsF16AndBF16AndMisalignedF32) {
    TempDir dir;
    // F16 1.0, -2.0 | BF16 1.0, -5.0 | F32 7.0 at an odd offset
    std::string data =
        std::string("\x00\x3c\x00\xc0", 4) + std::string("\x80\x3f\xa0\xc0", 4) + "x" + f32_bytes({7.0f});
    const std::string header = R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                               R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},)"
                               R"("f":{"dtype":"F32","shape":[],"data_offsets":[9,13]}})";
    write_file(dir.file("t.safetensors"), safetensors_bytes(header, data));
    SafetensorsFile st(dir.file("t.safetensors"));
    std::vector<float> s1, s2, s3;
    const float* h = st.as_f32(*st.find("h"), s1);
    EXPECT_EQ(h[0], 1.0f);
    EXPECT_EQ(h[1], -2.0f);
    const float* b = st.as_f32(*st.find("b"), s2);
    EXPECT_EQ(b[0], 1.0f);
    EXPECT_EQ(b[1], -5.0f);
    EXPECT_EQ(st.as_f32(*st.find("f"), s3)[0], 7.0f); // copied: the header length makes it misaligned
}

TEST(Safetensors, NonFloatTensorRefusedAsF32) {
    TempDir dir;
    write_file(dir.file("t.safetensors"),
               safetensors_bytes(R"({"i":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')));
    SafetensorsFile st(dir.file("t.safetensors"));
    std::vector<float> s;
    expect_error([&] { st.as_f32(*st.find("i"), s); }, {"t.safetensors", "'i'", "I32", "floating-point"});
}

TEST(SafetensorsBad, TruncatedFile) {
    TempDir dir;
    expect_error([&] { open_bytes(dir, "abc"); }, {"t.safetensors", "too short"});
    expect_error([&] { open_bytes(dir, ""); }, {"t.safetensors", "too short"});
    // header complete but the data area is cut short
    const std::string header = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
    expect_error(
        [&] {
            open_bytes(dir, safetensors_bytes(header, f32_bytes({1, 2})));
        },
        {"t.safetensors", "'a'", "beyond the data area", "truncated"});
}

TEST(SafetensorsBad, HeaderLengthBeyondFile) {
    TempDir dir;
    expect_error([&] { open_bytes(dir, safetensors_bytes("{}", "", 1000)); },
                 {"t.safetensors", "header length 1000", "beyond the end"});
    expect_error([&] { open_bytes(dir, safetensors_bytes("{}", "", uint64_t(1) << 40)); },
                 {"t.safetensors", "exceeds the limit"});
}

TEST(SafetensorsBad, HeaderNotJson) {
    TempDir dir;
    expect_error([&] { open_bytes(dir, safetensors_bytes("{not json", "")); }, {"t.safetensors", "not valid JSON"});
    // fuzzing found it: a number beyond double's range is nlohmann's out_of_range, not parse_error
    expect_error([&] { open_bytes(dir, safetensors_bytes(R"({"a": {"shape": [6666666E6666333]}})", "")); },
                 {"t.safetensors", "not valid JSON", "number overflow"});
    expect_error([&] { open_bytes(dir, safetensors_bytes("[1, 2]", "")); },
                 {"t.safetensors", "must be a JSON object", "array"});
    expect_error([&] { open_bytes(dir, safetensors_bytes(R"({"a": 5})", "")); }, {"'a'", "expected an object"});
    expect_error([&] { open_bytes(dir, safetensors_bytes(R"({"__metadata__": {"k": 1}})", "")); },
                 {"__metadata__", "'k'"});
}

TEST(SafetensorsBad, UnknownDtype) {
    TempDir dir;
    expect_error(
        [&] {
            open_bytes(dir, safetensors_bytes(R"({"w":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}})", "abcd"));
        },
        {"t.safetensors", "'w'", "unknown dtype 'F31'", "F32"});
}

TEST(SafetensorsBad, ByteRangeNotMatchingShape) {
    TempDir dir;
    expect_error(
        [&] {
            open_bytes(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                                              std::string(24, 0)));
        },
        {"t.safetensors", "'w'", "[2, 3]", "needs 24 bytes", "span 20"});
    expect_error(
        [&] {
            open_bytes(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                                              std::string(8, 0)));
        },
        {"'w'", "non-negative"});
    expect_error(
        [&] {
            open_bytes(dir, safetensors_bytes(
                                R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})",
                                std::string(8, 0)));
        },
        {"'w'", "more elements"});
    expect_error(
        [&] {
            open_bytes(
                dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", std::string(8, 0)));
        },
        {"'w'", "end before they begin"});
    expect_error([&] { open_bytes(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1]}})", std::string(8, 0))); },
                 {"'w'", "data_offsets"});
}

TEST(SafetensorsBad, RangesOutOfBoundsOrOverlapping) {
    TempDir dir;
    expect_error(
        [&] {
            open_bytes(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                                              std::string(12, 0)));
        },
        {"t.safetensors", "'w'", "[8, 16)", "beyond the data area of 12 bytes"});
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
    expect_error([&] { open_bytes(dir, safetensors_bytes(header, std::string(12, 0))); },
                 {"t.safetensors", "'a'", "'b'", "overlap"});
}

TEST(SafetensorsBad, MissingFile) {
    expect_error([&] { SafetensorsFile st("/nonexistent/model.safetensors"); },
                 {"/nonexistent/model.safetensors", "cannot open"});
}

// ---- the writer's pieces (SafetensorsWriter::write_part: how a capture writes patterns) ----

namespace {

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

} // namespace

TEST(SafetensorsWriter, PiecesFromThreadsMakeTheSameFileAsWholeWrites) {
    // A [4, 16, 16] tensor written as 4 heads from 4 threads (last head first) must give the
    // bytes that one write() of it gives, in F32 and in F16, next to a tensor written whole.
    TempDir dir;
    std::vector<float> a(4 * 16 * 16), b(3 * 5);
    for (size_t i = 0; i < a.size(); ++i)
        a[i] = std::sin(float(i)) * 3.0f;
    for (size_t i = 0; i < b.size(); ++i)
        b[i] = float(i) - 7.5f;
    for (DType dt : {DType::f32, DType::f16}) {
        const std::string whole = dir.file("whole.safetensors"), parts = dir.file("parts.safetensors");
        {
            SafetensorsWriter w(whole, dt, {{"format", "pt"}});
            const size_t ia = w.declare("a", {4, 16, 16}), ib = w.declare("b", {3, 5});
            w.begin();
            w.write(ia, TensorView::contiguous(a.data(), {4, 16, 16}));
            w.write(ib, TensorView::contiguous(b.data(), {3, 5}));
            w.finish();
        }
        {
            SafetensorsWriter w(parts, dt, {{"format", "pt"}});
            const size_t ia = w.declare("a", {4, 16, 16}), ib = w.declare("b", {3, 5});
            w.begin();
            std::vector<std::thread> threads;
            for (int h = 3; h >= 0; --h)
                threads.emplace_back([&, h] { w.write_part(ia, h * 256, a.data() + h * 256, 256); });
            for (auto& t : threads)
                t.join();
            w.write(ib, TensorView::contiguous(b.data(), {3, 5}));
            w.finish();
        }
        const std::string x = read_bytes(whole), y = read_bytes(parts);
        EXPECT_GT(x.size(), a.size() * dtype_size(dt));
        EXPECT_EQ(x, y) << dtype_name(dt);
        fs::remove(whole);
        fs::remove(parts);
    }
}

TEST(SafetensorsWriter, MissingOrStrayPieceIsRefused) {
    TempDir dir;
    const std::string path = dir.file("t.safetensors");
    std::vector<float> v(64, 1.0f);
    {
        SafetensorsWriter w(path, DType::f32);
        const size_t i = w.declare("seq0.blocks.0.attn.hook_pattern", {4, 4, 4});
        w.begin();
        try {
            w.write_part(i, 60, v.data(), 8); // [60, 68) of 64
            FAIL() << "expected an error for a piece outside the tensor";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("seq0.blocks.0.attn.hook_pattern"), std::string::npos) << e.what();
        }
        for (int h = 0; h < 3; ++h) // head 3 never comes
            w.write_part(i, h * 16, v.data(), 16);
        try {
            w.finish();
            FAIL() << "a tensor with a piece missing must not be finished";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("never written"), std::string::npos) << e.what();
        }
    }
    EXPECT_FALSE(fs::exists(path)) << "no file may look whole";
}
