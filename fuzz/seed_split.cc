// fuzz_seed_split DIR: writes DIR/every_type.split (fuzz_mapping.h), a seed of the split reader
// fuzzer beside the golden splits of tests/compat.
#include <cstdio>
#include <fstream>
#include <string>

#include "fuzz_mapping.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_split DIR\n");
    return 2;
  }
  const std::string split = shale::fuzz::BuildSeedSplit();
  if (split.empty()) {
    std::fprintf(stderr, "building the seed split failed\n");
    return 1;
  }
  std::ofstream out(std::string(argv[1]) + "/every_type.split", std::ios::binary);
  out.write(split.data(), static_cast<std::streamsize>(split.size()));
  return out.good() ? 0 : 1;
}
