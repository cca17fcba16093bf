// hook_digest: the SHA-256 of every hook value of a reference checkpoint's forward (all its
// sequences in one ragged batch, as the fixture tests run them), one line per hook:
//   hook_digest DIR...   ->   "<dir name> seq0.blocks.0.attn.hook_pattern <sha256>"
// The engine.same_bits test (same_bits.sh) compares these lines with the committed ones, so a
// refactoring of the forward (the per-layer description of issue #33) is shown to leave every
// value of every fixture the same bits; an intended change of the numbers regenerates them.
// Uses only the engine's public API, so the same file builds against older revisions (to make
// the "before" lines).
#include "core/sha256.h"
#include "engine/forward.h"
#include "io/safetensors.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace attnscope;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: hook_digest DIR...  (reference checkpoints with expected.safetensors)\n");
        return 2;
    }
    try {
        for (int a = 1; a < argc; ++a) {
            const std::string dir = argv[a];
            SafetensorsFile expected(dir + "/expected.safetensors");
            Batch batch;
            for (int s = 0;; ++s) {
                const TensorInfo* ids = expected.find("seq" + std::to_string(s) + ".input_ids");
                if (!ids) break;
                std::vector<int32_t> toks(size_t(ids->numel()));
                std::memcpy(toks.data(), expected.raw(*ids), toks.size() * 4);
                batch.tokens.push_back(toks);
            }
            auto model = Model::load(dir);
            std::map<std::string, std::string> digests; // sorted, so the order of hooks does not matter
            HookSet hooks;
            hooks.add(HookFilter::parse("*", "", ""), [&](const HookContext& ctx, TensorView v) {
                const std::vector<float> data = v.to_vector();
                Sha256 h;
                h.update(data.data(), data.size() * sizeof(float));
                digests["seq" + std::to_string(ctx.seq) + "." + ctx.name] = h.hex_digest();
            });
            RunState state;
            forward(*model, batch, hooks, state);
            const std::string name = std::filesystem::path(dir).filename().string();
            for (const auto& [hook, digest] : digests)
                std::printf("%s %s %s\n", name.c_str(), hook.c_str(), digest.c_str());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hook_digest: %s\n", e.what());
        return 1;
    }
    return 0;
}
