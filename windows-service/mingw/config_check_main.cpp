// The Linux twin of the reduced Windows build's --config.check (see config_check.hpp).
#include <iostream>

#include "windows-service/mingw/config_check.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: config_check FILE\n";
    return 2;
  }
  return kscprobe::config_check(argv[1], std::cout);
}
