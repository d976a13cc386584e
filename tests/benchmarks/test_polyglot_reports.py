"""The report parsers of the polyglot languages and the host-side test id scanners: they
agree on ids, and garbage never raises."""

from __future__ import annotations

import json
import random
import time

import pytest

from benchmarks import reports
from benchmarks.polyglot import scan

JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="JUnit Jupiter" tests="3" skipped="1" failures="1" errors="0">
<testcase name="encodeYes()" classname="AffineCipherTest" time="0.01"/>
<testcase name="encodeNo()" classname="AffineCipherTest" time="0.01">
<failure message="expected: &lt;x&gt;" type="org.opentest4j.AssertionFailedError">trace</failure>
</testcase>
<testcase name="later()" classname="AffineCipherTest" time="0"><skipped/></testcase>
</testsuite>
"""

CATCH = """<?xml version="1.0" encoding="UTF-8"?>
<Catch name="tests">
  <Group name="tests">
    <TestCase name="single bit one to decimal" filename="all_your_base_test.cpp" line="6">
      <OverallResult success="true"/>
    </TestCase>
    <TestCase name="zebra &quot;puzzle&quot;" filename="z.cpp" line="9">
      <Section name="Drinks water"><OverallResults successes="1" failures="0"/></Section>
      <Expression success="false" type="REQUIRE"><Original>a == b</Original></Expression>
      <OverallResult success="false"/>
    </TestCase>
    <TestCase name="crashed" filename="z.cpp" line="20">
  </Group>
</Catch>
"""

GO_JSON = "\n".join(
    json.dumps(e)
    for e in [
        {"Action": "run", "Package": "x", "Test": "TestA"},
        {"Action": "output", "Package": "x", "Test": "TestA", "Output": "--- PASS"},
        {"Action": "pass", "Package": "x", "Test": "TestA"},
        {"Action": "run", "Package": "x", "Test": "TestB/sub"},
        {"Action": "fail", "Package": "x", "Test": "TestB/sub"},
        {"Action": "fail", "Package": "x", "Test": "TestB"},
        {"Action": "skip", "Package": "x", "Test": "TestC"},
        {"Action": "fail", "Package": "x"},
    ]
)

CARGO = """   Compiling grep v1.3.0 (/work)
     Running unittests src/lib.rs (/tmp/t/debug/deps/grep-1)

running 1 test
test tests::mine ... ok

     Running tests/grep.rs (/tmp/t/debug/deps/grep-2)

running 4 tests
test one_file ... ok
test nested::case ... FAILED
test slow ... ignored
test slow2 ... ignored, takes a while

failures:
   Doc-tests grep

running 1 test
test src/lib.rs - grep (line 3) ... ok
"""

JEST = json.dumps(
    {
        "testResults": [
            {
                "assertionResults": [
                    {"ancestorTitles": ["Affine", "encode"], "title": "yes", "status": "passed"},
                    {"ancestorTitles": ["Affine"], "title": "no", "status": "failed"},
                    {"ancestorTitles": [], "title": "top", "status": "pending"},
                ]
            }
        ]
    }
)


def test_junit_xml():
    assert reports.parse("junit-xml", JUNIT) == {
        "AffineCipherTest.encodeYes": "pass",
        "AffineCipherTest.encodeNo": "fail",
        "AffineCipherTest.later": "skip",
    }


def test_catch2_xml_keeps_what_it_read_of_a_cut_report():
    assert reports.parse("catch2-xml", CATCH) == {
        "single bit one to decimal": "pass",
        'zebra "puzzle"': "fail",
    }


def test_go_test_json():
    assert reports.parse("go-test-json", GO_JSON) == {
        "TestA": "pass",
        "TestB/sub": "fail",
        "TestB": "fail",
        "TestC": "skip",
    }


def test_cargo_test_takes_only_integration_tests():
    assert reports.parse("cargo-test", CARGO) == {
        "grep::one_file": "pass",
        "grep::nested::case": "fail",
        "grep::slow": "skip",
        "grep::slow2": "skip",
    }


def test_jest_json():
    assert reports.parse("jest-json", JEST) == {
        "Affine > encode > yes": "pass",
        "Affine > no": "fail",
        "top": "skip",
    }


def test_a_test_reported_twice_keeps_its_worst_status():
    twice = GO_JSON + "\n" + json.dumps({"Action": "fail", "Test": "TestA"})
    assert reports.parse("go-test-json", twice)["TestA"] == "fail"


PARSERS = ["junit-xml", "catch2-xml", "go-test-json", "cargo-test", "jest-json"]
SAMPLES = [JUNIT, CATCH, GO_JSON, CARGO, JEST]


@pytest.mark.parametrize("name", PARSERS)
def test_garbage_never_raises(name):
    rng = random.Random(17)
    texts = ["", "\x00" * 100, "{", "[]", "null", '{"testResults": 5}', "<a><b>", "]]>"]
    texts += [s[: rng.randrange(len(s))] for s in SAMPLES for _ in range(30)]
    texts += ["".join(rng.choice("<>{}[]\"':,/ \nabc&;#") for _ in range(400)) for _ in range(50)]
    for text in texts:
        result = reports.parse(name, text)
        assert isinstance(result, dict)
        assert set(result.values()) <= set(reports.STATUSES)


def test_xml_entities_are_refused_not_expanded():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<testsuite><testcase classname="&b;" name="x"/></testsuite>'
    )
    start = time.monotonic()
    assert reports.parse("junit-xml", bomb) == {}
    assert time.monotonic() - start < 5


def test_a_huge_report_is_bounded():
    line = json.dumps({"Action": "pass", "Test": "T"}) + "\n"
    text = line * (reports.MAX_REPORT // len(line) + 1000)
    assert reports.parse("go-test-json", text) == {"T": "pass"}
    many = "".join(json.dumps({"Action": "pass", "Test": f"T{i}"}) + "\n" for i in range(120_000))
    assert len(reports.parse("go-test-json", many)) == reports.MAX_TESTS


# -- scanners: ids as the parsers give them --------------------------------------------------
def test_js_ids_follow_describe_nesting_and_skip_strings_and_comments():
    source = r"""
describe('Affine', () => {
  // test('commented out', () => {});
  describe("encode", () => {
    test('it\'s ok', () => { expect('test(').toBe(`x`); });
    xtest(`plain template`, () => {});
  });
  test(`computed ${n}`, () => {});
  it('last', () => { const re = /\(/; });
});
test('top', () => {});
"""
    assert scan.js_ids(source) == [
        "Affine > encode > it's ok",
        "Affine > encode > plain template",
        "Affine > last",
        "top",
    ]


def test_rust_ids_with_modules_raw_strings_and_lifetimes():
    source = r"""
use x::*;
fn helper<'a>(s: &'a str) -> &'a str { s }
#[test]
fn top() { let s = r#"mod fake { #[test] fn no() {} }"#; let c = '{'; }
mod inner {
    use super::*;
    #[test]
    #[ignore]
    fn deep() {}
    /* #[test] fn commented() {} */
}
#[test]
fn after() {}
"""
    assert scan.rust_ids("tests/grep.rs", source) == [
        "grep::top",
        "grep::inner::deep",
        "grep::after",
    ]


def test_java_ids_with_package_and_annotations():
    source = """package com.x;
class T {
    @Test
    @Disabled("Remove to run test")
    public void first() {}
    // @Test void commented() {}
    @Test @Tag("a") void second() { String s = "@Test void fake("; }
    void helper() {}
}
"""
    assert scan.java_ids("src/test/java/T.java", source) == ["com.x.T.first", "com.x.T.second"]


def test_cpp_ids_follow_the_preprocessor_with_all_tests_on():
    source = """TEST_CASE("one") {}
#if defined(EXERCISM_RUN_ALL_TESTS)
TEST_CASE("two \\"quoted\\"", "[tag]") {}
// TEST_CASE("commented") {}
#ifndef HEADER_GUARD
TEST_CASE("three") {}
#endif
#endif
#if defined(EXERCISM_INCLUDE_BENCHMARK)
TEST_CASE("benchmark") {}
#else
TEST_CASE("four") {}
#endif
"""
    assert scan.cpp_ids(source) == ["one", 'two "quoted"', "three", "four"]


def test_go_ids_and_examples():
    source = """package x
func TestA(t *testing.T) {}
func Testlower(t *testing.T) {}
func TestMain(m *testing.M) {}
func BenchmarkA(b *testing.B) {}
func ExampleA() {
	// Output: 1
}
func ExampleNoOutput() {}
"""
    assert scan.go_ids(source) == ["TestA", "ExampleA"]
