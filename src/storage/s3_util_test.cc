#include "storage/internal/s3_util.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shale::storage::internal {
namespace {

TEST(S3UtilTest, HashesAndEncodings) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Md5Base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(UriEncode("a b/c~d_e.f-g+h=é", true), "a%20b/c~d_e.f-g%2Bh%3D%C3%A9");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
}

TEST(S3UtilTest, XmlEscapingRoundTrips) {
  EXPECT_EQ(XmlEscape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&apos;");
  EXPECT_EQ(XmlUnescape(XmlEscape("a&b<c>\"d'")), "a&b<c>\"d'");
  EXPECT_EQ(XmlUnescape("&#38;&#x41;&#xe9;"), "&A\xC3\xA9");
  EXPECT_EQ(XmlUnescape("a & b &bogus; &#xZZ;"), "a & b &bogus; &#xZZ;");
}

TEST(S3UtilTest, ScansElements) {
  const std::string xml =
      "<ListBucketResult><KeyCount>2</KeyCount><Contents><Key>a&amp;b</Key><Size>1</Size>"
      "</Contents><Contents><Key>c</Key></Contents><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>";
  const std::vector<std::string_view> contents = XmlRawElements(xml, "Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(XmlFirstText(contents[0], "Key"), "a&b");
  EXPECT_EQ(XmlFirstText(contents[1], "Key"), "c");
  EXPECT_EQ(XmlFirstText(xml, "IsTruncated"), "false");
  EXPECT_EQ(XmlFirstText(xml, "NextContinuationToken"), std::nullopt);
  EXPECT_EQ(XmlFirstText("<Key>unterminated", "Key"), std::nullopt);
}

// The GET Object example of the AWS SigV4 documentation ("Examples of the complete Version 4
// signing process", example credentials from the AWS docs), except that only host,
// x-amz-content-sha256 and x-amz-date are signed; the expected value was computed from that
// canonical request independently of this code with Python's hmac module.
TEST(S3UtilTest, SigV4AuthorizationHasTheExpectedShape) {
  const SigV4Request request{"GET",
                             "examplebucket.s3.amazonaws.com",
                             "/test.txt",
                             "",
                             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                             "20130524T000000Z"};
  const std::string authorization = SigV4Authorization(
      request, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1");
  EXPECT_EQ(authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=df548e2ce037944d03f3e68682813b093763996d597cf890ca3d9037fd231eb4");
}

}  // namespace
}  // namespace shale::storage::internal
