// Writes bcrypt test vectors made by libxcrypt (Linux) for the Windows self-test: lines
// "<hash> <password in hex>" over $2a$, $2b$, $2x$ and $2y$, costs 4 to 6, empty, 8-bit and
// longer-than-72-byte passwords. Built and run on the host by scripts/test.d/40-windows.sh.
#include <crypt.h>

#include <cstdio>
#include <random>
#include <string>

int main(int argc, char** argv) {
  int count = argc > 1 ? std::stoi(argv[1]) : 64;
  std::mt19937 rng(static_cast<unsigned>(argc > 2 ? std::stoul(argv[2]) : 1));
  const char alphabet[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < count; ++i) {
    std::string setting = "$2";
    setting += "abxy"[i % 4];
    setting += "$0";
    setting += static_cast<char>('4' + i % 3);
    setting += '$';
    for (int k = 0; k < 22; ++k) setting += alphabet[rng() % 64];
    std::size_t len = i == 0 ? 0 : i % 8 == 1 ? 72 + rng() % 40 : rng() % 40;
    std::string password;
    for (std::size_t k = 0; k < len; ++k)
      password += static_cast<char>(i % 2 ? 1 + rng() % 255 : 32 + rng() % 95);
    crypt_data data{};
    const char* hash = crypt_rn(password.c_str(), setting.c_str(), &data, sizeof data);
    if (!hash || hash[0] == '*') return 1;
    std::printf("%s ", hash);
    for (unsigned char c : password) std::printf("%02x", c);
    std::printf("%s\n", password.empty() ? "-" : "");
  }
  return 0;
}
