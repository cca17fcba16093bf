// The forward differential test (issue #31): random checkpoints of every registered family, made
// by tools/reference/differential.py with the PyTorch reference's float64 hook values, in the
// directory given as the first argument (tests/engine/differential.sh makes it and runs this), each
// compared hook by hook (engine/reference_check.h). Its own program, so that the plain test run
// does not list it: without PyTorch it cannot run.
//   test_differential DIR [gtest options]
#include "engine/reference_check.h"
#include "model/model.h"

#include <filesystem>
#include <set>
#include <sstream>

using namespace attnscope;
using namespace attnscope::test;

namespace {
std::string g_root;
} // namespace

TEST(ForwardDifferential, GeneratedCheckpoints) {
    ASSERT_FALSE(g_root.empty()) << "usage: test_differential DIR (tests/engine/differential.sh)";
    std::vector<std::string> dirs;
    for (const auto& e : std::filesystem::directory_iterator(g_root))
        if (std::filesystem::exists(e.path() / "expected.safetensors")) dirs.push_back(e.path().string());
    std::sort(dirs.begin(), dirs.end());
    ASSERT_FALSE(dirs.empty()) << "no generated checkpoints in " << g_root;
    std::set<std::string> seen;
    for (const std::string& dir : dirs) {
        SCOPED_TRACE(dir);
        seen.insert(read_model_config(dir + "/config.json").model_type);
        compare_to_reference_dir(dir, std::filesystem::path(dir).filename().string(), false);
        if (HasFatalFailure()) return;
    }
    // every family of the registry took part: a new one needs its generator in differential.py
    std::stringstream all(supported_architectures());
    for (std::string family; std::getline(all, family, ',');) {
        family.erase(0, family.find_first_not_of(' '));
        EXPECT_TRUE(seen.count(family)) << "family '" << family << "' is registered but tools/reference/"
                                        << "differential.py generated no checkpoint of it";
    }
}

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    if (argc > 1) g_root = argv[1];
    return RUN_ALL_TESTS();
}
