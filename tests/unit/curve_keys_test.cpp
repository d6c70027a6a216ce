// Key files, the allowlist, Security::load and the ZAP decision, without sockets or processes
// (tests/integration/security_test.cpp runs them for real).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <fstream>

#include "security/security.hpp"
#include "security/zap_handler.hpp"
#include "support/process.hpp"

namespace brook {
namespace {

namespace fs = std::filesystem;

std::string thrown(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string binary(const std::string& z85) {
  std::string out(32, '\0');
  zmq_z85_decode(reinterpret_cast<std::uint8_t*>(out.data()), z85.c_str());
  return out;
}

struct Keys {
  test::TempDir dir;
  std::map<std::string, CurveKeyPair> pairs;
  SecuritySpec spec;

  explicit Keys(std::initializer_list<const char*> names) {
    Allowlist allow;
    for (const char* n : names) {
      pairs[n] = generate_curve_key_pair();
      write_key_files(dir.path(), n, pairs[n]);
      allow.emplace(n, pairs[n].public_key);
    }
    write_allowlist(dir / "allowlist", allow, "# test\n");
    spec.mechanism = Mechanism::kCurve;
    spec.keys = dir.path();
  }
};

TEST(CurveKeys, SecretFilesArePrivateAndReadBack) {
  Keys k{"directory", "basket"};
  struct stat st {};
  ASSERT_EQ(::stat((k.dir / "basket.key_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const CurveKeyPair back = read_secret_key_file(k.dir / "basket.key_secret");
  EXPECT_EQ(back.public_key, k.pairs["basket"].public_key);
  EXPECT_EQ(back.secret_key, k.pairs["basket"].secret_key);

  ::chmod((k.dir / "basket.key_secret").c_str(), 0640);
  EXPECT_NE(thrown([&] { read_secret_key_file(k.dir / "basket.key_secret"); }).find("chmod 600"),
            std::string::npos);
  EXPECT_NE(thrown([&] { read_secret_key_file(k.dir / "nobody.key_secret"); }).find("brook keygen"),
            std::string::npos);
}

// As OpenSSH's StrictModes: whoever can write the allowlist or the key directory can add a key.
TEST(CurveKeys, KeyMaterialOthersCanWriteIsRefused) {
  Keys k{"directory", "basket"};
  ASSERT_TRUE(Security::load(k.spec, "basket").curve());
  ::chmod((k.dir / "allowlist").c_str(), 0666);
  EXPECT_NE(thrown([&] { Security::load(k.spec, "basket"); })
                .find("the allowlist " + (k.dir / "allowlist").string() +
                      " is writable by group or others, so another local user could add or "
                      "replace keys: chmod go-w " +
                      (k.dir / "allowlist").string()),
            std::string::npos);
  ::chmod((k.dir / "allowlist").c_str(), 0644);
  ASSERT_TRUE(Security::load(k.spec, "basket").curve());
  ::chmod(k.dir.path().c_str(), 0777);
  const std::string dir_error = thrown([&] { Security::load(k.spec, "basket"); });
  EXPECT_NE(dir_error.find("the key directory " + k.dir.path().string() + " is writable"),
            std::string::npos)
      << dir_error;
  ::chmod(k.dir.path().c_str(), 0775);  // group-writable is refused too
  EXPECT_NE(thrown([&] { read_allowlist(k.dir / "allowlist"); }).find("chmod go-w"),
            std::string::npos);
  ::chmod(k.dir.path().c_str(), 0700);
  EXPECT_TRUE(Security::load(k.spec, "basket").curve());
  if (::geteuid() == 0) {  // only root can give a file away
    ASSERT_EQ(::chown((k.dir / "allowlist").c_str(), 65534, 65534), 0);
    EXPECT_NE(thrown([&] { Security::load(k.spec, "basket"); }).find("belongs to uid 65534"),
              std::string::npos);
  }
}

TEST(CurveKeys, AMismatchedPairIsRefused) {
  Keys k{"directory", "basket"};
  std::ofstream(k.dir / "odd.key_secret")
      << "curve\n    public-key = \"" << k.pairs["basket"].public_key << "\"\n    secret-key = \""
      << k.pairs["directory"].secret_key << "\"\n";
  ::chmod((k.dir / "odd.key_secret").c_str(), 0600);
  EXPECT_NE(thrown([&] { read_secret_key_file(k.dir / "odd.key_secret"); }).find("does not match"),
            std::string::npos);
}

TEST(CurveKeys, AllowlistKeepsHashesInKeysAndNamesBadLines) {
  test::TempDir dir;
  // '#' is a Z85 digit: only whole-line comments.
  const std::string key = generate_curve_key_pair().public_key;
  std::string with_hash;
  for (int i = 0; i < 1000 && with_hash.find('#') == std::string::npos; ++i) {
    with_hash = generate_curve_key_pair().public_key;  // about 4 in 10 keys hold a '#'
  }
  ASSERT_NE(with_hash.find('#'), std::string::npos);
  std::ofstream(dir / "a") << "# comment\n\n  basket " << with_hash << "\n";
  EXPECT_EQ(read_allowlist(dir / "a").at("basket"), with_hash);

  std::ofstream(dir / "b") << "basket " << key << "\norder " << key << "\n";
  EXPECT_NE(thrown([&] {
              read_allowlist(dir / "b");
            }).find("b:2: the key of 'order' is also listed for 'basket'"),
            std::string::npos);
  std::ofstream(dir / "c") << "basket " << key << "\nbasket " << with_hash << "\n";
  EXPECT_NE(thrown([&] { read_allowlist(dir / "c"); }).find("c:2: 'basket' is listed twice"),
            std::string::npos);
  std::ofstream(dir / "d") << "basket not-a-key\n";
  EXPECT_NE(thrown([&] { read_allowlist(dir / "d"); }).find("d:1:"), std::string::npos);
}

TEST(CurveKeys, LoadRefusesAStaleSecretAndAnAllowlistWithoutTheDirectory) {
  Keys k{"directory", "basket"};
  EXPECT_TRUE(Security::load(k.spec, "basket").curve());
  write_key_files(k.dir.path(), "basket", generate_curve_key_pair());  // regenerated, list not
  EXPECT_NE(thrown([&] { Security::load(k.spec, "basket"); }).find("does not match its public key"),
            std::string::npos);

  Keys no_dir{"basket"};
  EXPECT_NE(thrown([&] { Security::load(no_dir.spec, "basket"); }).find("no 'directory' key"),
            std::string::npos);
  SecuritySpec none;
  EXPECT_FALSE(Security::load(none, "basket").curve());
}

TEST(ZapJudge, AdmitsOnlyAllowlistedCurveKeysUnderTheirName) {
  Keys k{"directory", "basket", "order"};
  const Security s = Security::load(k.spec, "order");
  ZapRequest r{
      "1.0", "1", "checkouts", "127.0.0.1", "", "CURVE", {binary(k.pairs["basket"].public_key)}};
  ZapVerdict v = judge(r, s);
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.status_code, "200");
  EXPECT_EQ(v.user_id, "basket");

  r.credentials = {binary(generate_curve_key_pair().public_key)};
  v = judge(r, s);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.status_code, "400");
  EXPECT_NE(v.status_text.find("not on the allowlist"), std::string::npos);

  r.mechanism = "NULL";
  r.credentials.clear();
  EXPECT_EQ(judge(r, s).status_code, "400");
  r.mechanism = "CURVE";
  r.credentials = {"short"};
  EXPECT_EQ(judge(r, s).status_code, "400");
  r.version = "2.0";
  EXPECT_EQ(judge(r, s).status_code, "500");
}

}  // namespace
}  // namespace brook
