// The GGUF reader and writer: a written file reads back (metadata of every type, tensors,
// alignment), and each hand-made bad file is refused with its own message, which names the
// file by its base name and never its directory.
#include "engine/checkpoint/gguf.h"

#include <cstring>
#include <string>
#include <vector>

#include "engine/checkpoint/gguf_types.h"
#include "engine/checkpoint/gguf_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Little-endian pieces for hand-made files.
std::string U32(std::uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string U64(std::uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
std::string Str(const std::string& s) { return U64(s.size()) + s; }
std::string Header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
  return "GGUF" + U32(version) + U64(tensors) + U64(kvs);
}
std::string TensorInfo(const std::string& name, std::vector<std::uint64_t> dims, std::uint32_t type,
                       std::uint64_t offset) {
  std::string out = Str(name) + U32(dims.size());
  for (std::uint64_t d : dims) out += U64(d);
  return out + U32(type) + U64(offset);
}
// Pads a header to the default alignment (32) and appends the data section.
std::string WithData(std::string header, const std::string& data) {
  header.resize((header.size() + 31) / 32 * 32, '\0');
  return header + data;
}

std::vector<std::uint8_t> Bytes(std::size_t n, std::uint8_t fill = 0) {
  return std::vector<std::uint8_t>(n, fill);
}

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ghost::testing::MakeTempDir("gguf"); }

  std::string Write(const std::string& contents) {
    const std::string path = dir_ + "/t" + std::to_string(count_++) + ".gguf";
    ghost::testing::WriteFile(path, contents);
    return path;
  }

  // The error of opening these bytes: INVALID_ARGUMENT naming the file's base name only.
  std::string ErrorOf(const std::string& contents) {
    const std::string path = Write(contents);
    absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
    EXPECT_FALSE(file.ok());
    if (file.ok()) return "";
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << file.status();
    const std::string message(file.status().message());
    EXPECT_THAT(message, HasSubstr(path.substr(path.rfind('/') + 1)));
    EXPECT_THAT(message, Not(HasSubstr(dir_)));
    return message;
  }

  std::string dir_;
  int count_ = 0;
};

TEST_F(GgufTest, ReadsBackWhatTheWriterWrote) {
  GgufWriter writer(64);
  writer.SetString("general.architecture", "llama");
  writer.SetU32("llama.block_count", 2);
  writer.SetI32("signed", -7);
  writer.SetF32("llama.rope.freq_base", 10000.5f);
  writer.SetBool("tokenizer.ggml.add_bos_token", true);
  writer.SetStringArray("tokenizer.ggml.tokens", {"a", "",
                                                  "\xe2\x96\x81"
                                                  "b"});
  writer.SetI32Array("tokenizer.ggml.token_type", {1, 3, 6});
  writer.SetF32Array("tokenizer.ggml.scores", {0.0f, -1.5f});
  std::vector<std::uint8_t> f32(4 * 6);
  for (std::size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<std::uint8_t>(i);
  ASSERT_TRUE(writer.AddTensor("a", static_cast<std::uint32_t>(GgmlType::kF32), {3, 2}, f32).ok());
  ASSERT_TRUE(
      writer.AddTensor("b", static_cast<std::uint32_t>(GgmlType::kQ8_0), {32}, Bytes(34, 9)).ok());
  const std::string image = writer.Serialize();

  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(Write(image));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->version(), 3u);
  EXPECT_EQ((*file)->alignment(), 64u);
  EXPECT_EQ(*(*file)->GetString("general.architecture"), "llama");
  EXPECT_EQ(*(*file)->GetInt("llama.block_count"), 2);
  EXPECT_EQ(*(*file)->GetInt("signed"), -7);
  EXPECT_EQ(*(*file)->GetReal("llama.rope.freq_base"), 10000.5);
  EXPECT_TRUE(*(*file)->GetBool("tokenizer.ggml.add_bos_token"));
  EXPECT_THAT(*(*file)->GetStringArray("tokenizer.ggml.tokens"), ElementsAre("a", "",
                                                                             "\xe2\x96\x81"
                                                                             "b"));
  EXPECT_THAT(*(*file)->GetIntArray("tokenizer.ggml.token_type"), ElementsAre(1, 3, 6));
  EXPECT_THAT(*(*file)->GetRealArray("tokenizer.ggml.scores"), ElementsAre(0.0f, -1.5f));
  EXPECT_EQ(*(*file)->GetOptionalInt("absent", 5), 5);

  const GgufTensor* a = (*file)->FindTensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_THAT(a->dims, ElementsAre(3, 2));
  ASSERT_EQ(a->nbytes, 24u);
  EXPECT_EQ(std::memcmp(a->data, f32.data(), 24), 0);
  const GgufTensor* b = (*file)->FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, 8u);
  EXPECT_EQ(b->nbytes, 34u);
  EXPECT_EQ((b->data - a->data) % 64, 0);
  EXPECT_EQ(b->data[33], 9);
}

TEST_F(GgufTest, TypedReadsNameTheKeyAndTheTypes) {
  GgufWriter writer;
  writer.SetString("s", "x");
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(Write(writer.Serialize()));
  ASSERT_TRUE(file.ok());
  const absl::Status wrong = (*file)->GetInt("s").status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.message(), HasSubstr("metadata key \"s\" is string, expected an integer"));
  const absl::Status missing = (*file)->GetString("nope").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("\"nope\" is missing"));
}

TEST_F(GgufTest, EachBadHeaderHasItsOwnError) {
  EXPECT_THAT(ErrorOf("GG"), HasSubstr("header: file ends"));
  EXPECT_THAT(ErrorOf("GGML" + U32(3) + U64(0) + U64(0)), HasSubstr("bad magic"));
  EXPECT_THAT(ErrorOf(Header(0, 0, 1)), HasSubstr("GGUF version 1 is not supported"));
  EXPECT_THAT(ErrorOf("GGUF" + std::string("\0\0\0\3", 4) + U64(0) + U64(0)),
              HasSubstr("big-endian"));
  EXPECT_THAT(ErrorOf(Header(0, 1ull << 40)), HasSubstr("metadata entries cannot fit"));
  EXPECT_THAT(ErrorOf(Header(1ull << 30, 0)), HasSubstr("tensor infos cannot fit"));
}

TEST_F(GgufTest, EachBadMetadataEntryHasItsOwnError) {
  // A key whose length runs past the end of the file.
  EXPECT_THAT(ErrorOf(Header(0, 1) + U64(1000) + "abc" + U32(0) + "x"),
              HasSubstr("string length 1000 exceeds"));
  EXPECT_THAT(ErrorOf(Header(0, 1) + Str("k") + U32(13) + U64(0)),
              HasSubstr("metadata key \"k\": unknown value type 13"));
  EXPECT_THAT(ErrorOf(Header(0, 1) + Str("k") + U32(4) + "\1"),
              HasSubstr("value runs past the end"));
  EXPECT_THAT(ErrorOf(Header(0, 1) + Str("k") + U32(7) + "\2" + std::string(12, '\0')),
              HasSubstr("bool value is neither 0 nor 1"));
  EXPECT_THAT(ErrorOf(Header(0, 1) + Str("k") + U32(9) + U32(9) + U64(1) + std::string(12, '\0')),
              HasSubstr("arrays of arrays"));
  EXPECT_THAT(ErrorOf(Header(0, 1) + Str("k") + U32(9) + U32(8) + U64(1ull << 40) + U64(0)),
              HasSubstr("array of 1099511627776 strings exceeds"));
  EXPECT_THAT(ErrorOf(Header(0, 1) + Str("k") + U32(9) + U32(12) + U64(1ull << 61) + U64(0)),
              HasSubstr("array of 2305843009213693952 f64 values exceeds"));
  const std::string kv = Str("k") + U32(4) + U32(1);
  EXPECT_THAT(ErrorOf(Header(0, 2) + kv + kv), HasSubstr("metadata key \"k\": duplicate key"));
  // Control bytes in a key are escaped, not echoed.
  EXPECT_THAT(ErrorOf(Header(0, 1) + Str("a\nb") + U32(99) + U64(0)),
              HasSubstr("metadata key \"a\\x0ab\""));
}

TEST_F(GgufTest, BadAlignmentIsRefused) {
  const std::string wrong_type = Str("general.alignment") + U32(10) + U64(64);
  EXPECT_THAT(ErrorOf(Header(0, 1) + wrong_type), HasSubstr("is u64, expected u32"));
  const std::string not_power = Str("general.alignment") + U32(4) + U32(48);
  EXPECT_THAT(ErrorOf(Header(0, 1) + not_power), HasSubstr("48 is not a power of two"));
  const std::string zero = Str("general.alignment") + U32(4) + U32(0);
  EXPECT_THAT(ErrorOf(Header(0, 1) + zero), HasSubstr("0 is not a power of two"));
}

TEST_F(GgufTest, EachBadTensorInfoHasItsOwnError) {
  const std::string data(64, '\0');
  EXPECT_THAT(ErrorOf(WithData(Header(1, 0) + TensorInfo(std::string(64, 'n'), {4}, 0, 0), data)),
              HasSubstr("name longer than 63 bytes"));
  EXPECT_THAT(ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {}, 0, 0) + U64(0), data)),
              HasSubstr("tensor \"t\": 0 dimensions"));
  EXPECT_THAT(ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {1, 1, 1, 1, 1}, 0, 0), data)),
              HasSubstr("5 dimensions"));
  EXPECT_THAT(
      ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {1ull << 32, 1ull << 32}, 0, 0), data)),
      HasSubstr("tensor \"t\": element count overflows"));
  EXPECT_THAT(ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {4}, 4, 0), data)),
              HasSubstr("unknown ggml type 4"));
  EXPECT_THAT(ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {33}, 8, 0), data)),
              HasSubstr("first dimension 33 is not a multiple of Q8_0's block of 32"));
  EXPECT_THAT(
      ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {1ull << 30, 1ull << 20}, 0, 0), data)),
      HasSubstr("data size exceeds the file"));
  EXPECT_THAT(ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {4}, 0, 8), data)),
              HasSubstr("offset 8 is not a multiple of the 32-byte alignment"));
  EXPECT_THAT(ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {16}, 0, 32), data)),
              HasSubstr("data [32, 96) lies outside the 64-byte data section"));
  EXPECT_THAT(ErrorOf(WithData(Header(1, 0) + TensorInfo("t", {4}, 0, 1ull << 63), data)),
              HasSubstr("lies outside"));
  EXPECT_THAT(ErrorOf(WithData(
                  Header(2, 0) + TensorInfo("t", {4}, 0, 0) + TensorInfo("t", {4}, 0, 32), data)),
              HasSubstr("tensor \"t\": duplicate tensor name"));
  EXPECT_THAT(
      ErrorOf(WithData(Header(2, 0) + TensorInfo("a", {16}, 0, 0) + TensorInfo("b", {4}, 0, 32),
                       data + data)),
      HasSubstr("tensor \"b\": data overlaps tensor \"a\""));
  // The file ends inside a tensor info.
  EXPECT_THAT(ErrorOf(Header(1, 0) + Str("t") + U32(2) + U64(4) + std::string(12, '\0')),
              HasSubstr("tensor \"t\": file ends"));
}

TEST_F(GgufTest, TypeTableKnowsCurrentGgmlTypes) {
  EXPECT_EQ(GgmlTypeName(42), "Q2_0");
  EXPECT_EQ(FindGgmlType(42)->block_size, 64u);
  EXPECT_EQ(FindGgmlType(42)->block_bytes, 18u);
  EXPECT_EQ(FindGgmlType(35)->block_bytes, 66u);
  EXPECT_EQ(FindGgmlType(34)->block_bytes, 54u);
  EXPECT_EQ(GgmlTypeName(12), "Q4_K");
  EXPECT_EQ(GgmlTypeName(4), "type 4");
  EXPECT_FALSE(FindGgmlType(43).has_value());
}

}  // namespace
}  // namespace ghost
