// Tile configuration shared by the AMX kernels (included only by files compiled with the
// AMX flags). Every tile here is 16 rows; a tile's row width (colsb) is its K bytes for the
// weight tiles and 64 bytes (16 lanes of 4 bytes) for the others.
#ifndef GHOST_KERNELS_CPU_AMX_TILES_H_
#define GHOST_KERNELS_CPU_AMX_TILES_H_

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace ghost::kernels::internal {
namespace {

// Palette 1's 64-byte configuration block (Intel SDM, LDTILECFG).
struct alignas(64) TileConfig {
  std::uint8_t palette_id;
  std::uint8_t start_row;
  std::uint8_t reserved[14];
  std::uint16_t colsb[16];
  std::uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64);

// Loads a configuration for the calling thread on construction and releases the tile state
// on destruction, so that a pool task (any thread) configures what it uses and leaves no
// tile state behind (a thread that holds none saves none on a context switch).
class ScopedTiles {
 public:
  // Tiles [0, count) with rows[i] rows of colsb[i] bytes.
  ScopedTiles(int count, const std::uint8_t* rows, const std::uint16_t* colsb) {
    TileConfig config;
    std::memset(&config, 0, sizeof(config));
    config.palette_id = 1;
    for (int i = 0; i < count; ++i) {
      config.rows[i] = rows[i];
      config.colsb[i] = colsb[i];
    }
    _tile_loadconfig(&config);
  }
  ~ScopedTiles() { _tile_release(); }
  ScopedTiles(const ScopedTiles&) = delete;
  ScopedTiles& operator=(const ScopedTiles&) = delete;
};

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_AMX_TILES_H_
