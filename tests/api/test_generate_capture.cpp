// generate --output: a real trained model (tests/data/stories260K, converted) continues a
// prompt greedily, and the prompt with its continuation is captured in one forward: the manifest
// records where the prompt ends, the tokens are the tokenizer's, the viewer marks the prompt, and
// the capture's logits pick each generated token (the capture and the KV-cached decoding agree).
#include "api/runner.h"
#include "capture/capture.h"
#include "convert/llama2c.h"
#include "render/viewer.h"
#include "test_util.h"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace attnscope;
using namespace attnscope::test;

TEST(GenerateCapture, PromptAndContinuationInOneCapture) {
    const std::string stories = std::string(ATTNSCOPE_SOURCE_DIR) + "/tests/data/stories260K";
    TempDir dir;
    convert_llama2c(stories + "/stories260K.bin", stories + "/tok512.model", dir.file("model"));
    RunnerOptions opts;
    opts.capture = "weights,logits";
    Runner runner(dir.file("model"), opts);
    const std::vector<int32_t> prompt = runner.tokenizer().encode("Once upon a time");
    ASSERT_EQ(prompt.front(), 1); // BOS from the tokenizer's template
    GenerateOptions go;
    go.max_new_tokens = 12;
    const GenerateResult g = runner.generate(prompt, go);
    ASSERT_EQ(g.ids.size(), 12u);
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), g.ids.begin(), g.ids.end());
    runner.run_with_hooks(runner.prepare_ids(all, int64_t(prompt.size())), dir.file("cap"));

    const CaptureReader cap(dir.file("cap"));
    ASSERT_EQ(cap.n_sequences(), 1);
    const SequenceInfo& s = cap.sequence(0);
    EXPECT_EQ(s.prompt_length, int64_t(prompt.size()));
    EXPECT_EQ(s.token_ids, all);
    EXPECT_EQ(s.text, runner.tokenizer().decode(all));
    EXPECT_EQ(s.tokens, runner.tokenizer().display(all));
    // the full forward's logits at each position before a generated token pick that token
    const Captured logits = cap.read(0, "logits");
    const int64_t V = runner.model().config().vocab_size;
    for (size_t t = prompt.size() - 1; t + 1 < all.size(); ++t) {
        const float* row = logits.data.data() + int64_t(t) * V;
        const int64_t best = std::max_element(row, row + V) - row;
        EXPECT_EQ(best, all[t + 1]) << "position " << t;
    }
    write_viewer(cap, nullptr, dir.file("view.html"));
    std::ifstream in(dir.file("view.html"));
    std::stringstream html;
    html << in.rdbuf();
    EXPECT_NE(html.str().find("\"prompt_length\":" + std::to_string(prompt.size())), std::string::npos);
    EXPECT_NE(html.str().find("prompt-end"), std::string::npos);
    // a prompt length beyond the tokens is refused
    expect_error([&] { runner.prepare_ids({1, 2}, 3); }, {"prompt_length 3"});
}
