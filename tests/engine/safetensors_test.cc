#include "engine/checkpoint/safetensors.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::F32Bytes;
using ::ghost::testing::RawSafetensors;
using ::ghost::testing::SafetensorsBytes;
using ::ghost::testing::TestTensor;
using ::testing::HasSubstr;
using ::testing::Not;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ghost::testing::MakeTempDir("safetensors"); }

  std::string Write(const std::string& contents) {
    const std::string path = dir_ + "/t" + std::to_string(count_++) + ".safetensors";
    ghost::testing::WriteFile(path, contents);
    return path;
  }

  // The error text of opening a file with these bytes; also checks that it names the file.
  std::string ErrorOf(const std::string& contents) {
    const std::string path = Write(contents);
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
    EXPECT_FALSE(file.ok());
    if (file.ok()) return "";
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(file.status().message());
    EXPECT_THAT(message, HasSubstr(path));
    return message;
  }

  std::string dir_;
  int count_ = 0;
};

TEST_F(SafetensorsTest, ReadsBackTensorsAndMetadata) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::string path =
      Write(SafetensorsBytes({{"a", TestTensor{"F32", {2, 3}, F32Bytes(a)}},
                              {"b", TestTensor{"BF16", {2}, std::string("\x80\x3f\x00\x40", 4)}},
                              {"empty", TestTensor{"I32", {0, 4}, ""}},
                              {"scalar", TestTensor{"U8", {}, "\x07"}}},
                             {{"format", "pt"}}));
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT((*file)->tensor_names(), ::testing::ElementsAre("a", "b", "empty", "scalar"));
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  const TensorView* ta = (*file)->Find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, Dtype::kF32);
  EXPECT_EQ(ta->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(ta->nbytes, 24u);
  EXPECT_EQ(ta->num_elements(), 6);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ta->data), 24), F32Bytes(a));
  const TensorView* tb = (*file)->Find("b");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->dtype, Dtype::kBF16);
  EXPECT_EQ(tb->data[1], 0x3f);
  EXPECT_EQ((*file)->Find("empty")->nbytes, 0u);
  EXPECT_EQ((*file)->Find("scalar")->num_elements(), 1);
  EXPECT_EQ((*file)->Find("missing"), nullptr);
}

TEST_F(SafetensorsTest, EmptyHeaderIsValid) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(Write(RawSafetensors("{}", "")));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->tensor_names().empty());
}

TEST_F(SafetensorsTest, DtypeTable) {
  for (const char* name : {"F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "U16",
                           "U32", "U64", "BOOL"}) {
    const std::optional<Dtype> dtype = DtypeFromName(name);
    ASSERT_TRUE(dtype.has_value()) << name;
    EXPECT_STREQ(DtypeName(*dtype), name);
  }
  EXPECT_EQ(DtypeSize(Dtype::kBF16), 2u);
  EXPECT_EQ(DtypeSize(Dtype::kF64), 8u);
  EXPECT_FALSE(DtypeFromName("F8").has_value());
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  EXPECT_EQ(SafetensorsFile::Open(dir_ + "/nope.safetensors").status().code(),
            absl::StatusCode::kNotFound);
}

// One malformed file per validation rule, each with its own message.
TEST_F(SafetensorsTest, ShortFile) {
  EXPECT_THAT(ErrorOf("abc"), HasSubstr("file too short (3 bytes)"));
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFile) {
  std::string bytes = RawSafetensors("{}", "");
  bytes[0] = 50;
  EXPECT_THAT(ErrorOf(bytes),
              HasSubstr("the header length (first 8 bytes) runs past the end of the 10-byte file"));
}

// A file that is not safetensors at all (here /etc/passwd's first line) is refused without
// echoing its bytes: the header length used to be printed, "root:x:0" as 3475222254926655346.
TEST_F(SafetensorsTest, ErrorsNeverEchoTheFilesBytes) {
  std::string error = ErrorOf("root:x:0:0:root:/root:/bin/bash\n");
  EXPECT_THAT(error, HasSubstr("exceeds the 100 MB limit"));
  EXPECT_THAT(error, Not(HasSubstr("root"))) << error;
  EXPECT_THAT(error, Not(HasSubstr("3475222254926655346"))) << error;
  // Nor does a header that is not JSON.
  error = ErrorOf(RawSafetensors("root:x:0:0:secret", ""));
  EXPECT_THAT(error, HasSubstr("invalid JSON at byte"));
  EXPECT_THAT(error, Not(HasSubstr("root"))) << error;
}

TEST_F(SafetensorsTest, HeaderOver100MB) {
  std::string bytes = RawSafetensors("{}", "");
  bytes.replace(0, 8, std::string("\x00\xe2\xf5\x05\x00\x00\x00\x00", 8));  // 100,000,256
  EXPECT_THAT(ErrorOf(bytes), HasSubstr("exceeds the 100 MB limit"));
}

TEST_F(SafetensorsTest, InvalidJson) {
  EXPECT_THAT(ErrorOf(RawSafetensors("{\"a\": ", "")), HasSubstr("invalid JSON"));
}

TEST_F(SafetensorsTest, InvalidUtf8) {
  EXPECT_THAT(ErrorOf(RawSafetensors("{\"\xff\": 1}", "")), HasSubstr("not valid UTF-8"));
}

TEST_F(SafetensorsTest, NotAnObject) {
  EXPECT_THAT(ErrorOf(RawSafetensors("[1, 2]", "")), HasSubstr("header is not a JSON object"));
}

TEST_F(SafetensorsTest, UnknownDtype) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"w": {"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}})", "abcd")),
              HasSubstr("tensor \"w\": unknown dtype \"F12\""));
}

TEST_F(SafetensorsTest, MetadataNotStringToString) {
  EXPECT_THAT(ErrorOf(RawSafetensors(R"({"__metadata__": {"epoch": 3}})", "")),
              HasSubstr("__metadata__ must be a string->string map; \"epoch\" is 3"));
}

TEST_F(SafetensorsTest, OffsetsOutOfBounds) {
  EXPECT_THAT(
      ErrorOf(RawSafetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                             "abcd")),
      HasSubstr("tensor \"w\": data_offsets [0, 8] out of bounds of the 4-byte data section"));
}

TEST_F(SafetensorsTest, BeginAfterEnd) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}})", "abcd")),
              HasSubstr("tensor \"w\": data_offsets begin 4 > end 0"));
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                  "abcdefgh")),
              HasSubstr("tensor \"b\": overlaps the previous tensor"));
}

TEST_F(SafetensorsTest, GapInDataSection) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                      "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                  "abcdefghijkl")),
              HasSubstr("tensor \"b\": gap: bytes [4, 8)"));
}

TEST_F(SafetensorsTest, TrailingBytesNotCovered) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", "abcdefgh")),
              HasSubstr("data section has 4 trailing bytes not covered by any tensor"));
}

TEST_F(SafetensorsTest, ShapeTimesDtypeSizeMismatch) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", "abcdefgh")),
              HasSubstr("tensor \"w\": shape and dtype F32 need 12 bytes but data_offsets span 8"));
}

TEST_F(SafetensorsTest, ShapeProductOverflow) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296],
                            "data_offsets": [0, 4]}})",
                  "abcd")),
              HasSubstr("tensor \"w\": shape product overflows"));
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"w": {"dtype": "F64", "shape": [4611686018427387904],
                            "data_offsets": [0, 4]}})",
                  "abcd")),
              HasSubstr("tensor \"w\": shape product times dtype size overflows"));
}

TEST_F(SafetensorsTest, DuplicateTensorNames) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                      "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                  "abcdefgh")),
              HasSubstr("duplicate key \"w\""));
}

TEST_F(SafetensorsTest, NegativeShape) {
  EXPECT_THAT(ErrorOf(RawSafetensors(
                  R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "abcd")),
              HasSubstr("tensor \"w\": shape entries must be non-negative integers"));
}

}  // namespace
}  // namespace ghost
