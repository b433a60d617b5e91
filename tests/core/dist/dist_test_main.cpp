// The data-parallel tests' own main: started with DISTILL_DIST_TEST_WORKER set, the binary is a
// rank other than 0 of a test's run (data_parallel_test.cpp starts it so), else the tests.
#include <gtest/gtest.h>

#include <cstdlib>

namespace distill::testing {
int runDistWorker(const std::string& role);
}

int main(int argc, char** argv) {
  if (const char* role = std::getenv("DISTILL_DIST_TEST_WORKER")) return distill::testing::runDistWorker(role);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
