//! Unit tests of the engine: each limit stops a script with its own error.

use std::time::{Duration, Instant};

use serde_json::json;

use super::engine::{Limits, LogLevel, SandboxError, TimeLimit, compile, run};

fn limits() -> Limits {
    Limits {
        cpu: Duration::from_millis(500),
        // Generous: on a loaded machine 500 ms of CPU can take seconds; the
        // CPU limit is what these tests are about.
        wall: Duration::from_secs(30),
        memory_bytes: 32 * 1024 * 1024,
        output_bytes: 1024 * 1024,
    }
}

#[test]
fn main_gets_the_arguments_and_returns_json_with_logs() {
    let source = "function main(args) {\n  console.log('hello', args.name, {n: 1});\n  console.warn('careful');\n  return { greeting: 'hi ' + args.name, sum: args.xs.reduce((a, b) => a + b, 0) };\n}";
    let out = run(source, &json!({"name": "Ada", "xs": [1, 2, 3]}), &limits()).expect("runs");
    assert_eq!(out.result, json!({"greeting": "hi Ada", "sum": 6}));
    assert_eq!(out.logs.len(), 2);
    assert_eq!(out.logs[0].message, r#"hello Ada {"n":1}"#);
    assert_eq!(out.logs[0].level, LogLevel::Log);
    assert_eq!(out.logs[1].level, LogLevel::Warn);
}

#[test]
fn async_main_is_awaited_and_undefined_is_null() {
    let out = run(
        "async function main(a) { const v = await Promise.resolve(a.x * 2); return v; }",
        &json!({"x": 21}),
        &limits(),
    )
    .expect("runs");
    assert_eq!(out.result, json!(42));
    let out = run("function main() {}", &json!({}), &limits()).expect("runs");
    assert_eq!(out.result, serde_json::Value::Null);
}

#[test]
fn an_infinite_loop_is_stopped_at_the_cpu_limit() {
    let err = run("function main() { for (;;) {} }", &json!({}), &limits()).expect_err("stopped");
    assert!(matches!(err, SandboxError::Timeout { limit: TimeLimit::Cpu, limit_ms: 500, .. }), "{err:?}");
}

#[test]
fn a_script_starved_of_cpu_is_stopped_by_the_wall_clock() {
    let limits = Limits { cpu: Duration::from_secs(30), wall: Duration::from_millis(200), ..limits() };
    let started = Instant::now();
    let err = run("function main() { for (;;) {} }", &json!({}), &limits).expect_err("stopped");
    assert!(matches!(err, SandboxError::Timeout { limit: TimeLimit::Wall, limit_ms: 200, .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn catching_the_interrupt_does_not_help() {
    let source = "function main() { for (;;) { try { for (;;) {} } catch (e) {} } }";
    let err = run(source, &json!({}), &limits()).expect_err("stopped");
    assert!(matches!(err, SandboxError::Timeout { limit: TimeLimit::Cpu, .. }), "{err:?}");
}

#[test]
fn a_catastrophic_regex_is_stopped_too() {
    let source = "function main() { return /^(a+)+$/.test('a'.repeat(40) + 'b'); }";
    let err = run(source, &json!({}), &limits()).expect_err("stopped");
    assert!(matches!(err, SandboxError::Timeout { .. }), "{err:?}");
}

#[test]
fn a_memory_bomb_is_stopped_at_the_memory_limit() {
    let source = "function main() { const a = []; for (;;) a.push(new Array(100000).fill(1.5)); }";
    let err = run(source, &json!({}), &limits()).expect_err("stopped");
    assert!(
        matches!(err, SandboxError::MemoryExceeded { limit_bytes, .. } if limit_bytes == 32 * 1024 * 1024),
        "{err:?}"
    );
    let source = "function main() { const parts = []; for (;;) parts.push('x'.repeat(1 << 20)); }";
    let err = run(source, &json!({}), &limits()).expect_err("stopped");
    assert!(matches!(err, SandboxError::MemoryExceeded { .. }), "{err:?}");
}

#[test]
fn a_large_result_or_endless_logging_is_refused() {
    let err =
        run("function main() { return 'x'.repeat(10 * 1024 * 1024); }", &json!({}), &limits()).expect_err("too big");
    assert!(matches!(err, SandboxError::OutputTooLarge { limit_bytes: 1_048_576, .. }), "{err:?}");
    let source = "function main() { for (;;) { try { console.log('y'.repeat(1000)); } catch (e) {} } }";
    let err = run(source, &json!({}), &limits()).expect_err("too big");
    let SandboxError::OutputTooLarge { logs, .. } = err else { panic!("{err:?}") };
    assert!(!logs.is_empty() && logs.len() <= 1048, "{}", logs.len());
}

#[test]
fn nothing_outside_the_language_is_reachable() {
    for (source, expected) in [
        ("function main() { return require('fs'); }", "ReferenceError"),
        ("function main() { return fetch('http://example.com'); }", "ReferenceError"),
        ("function main() { return new XMLHttpRequest(); }", "ReferenceError"),
        ("function main() { return Deno.readTextFileSync('/etc/passwd'); }", "ReferenceError"),
        ("function main() { return process.env; }", "ReferenceError"),
        ("function main() { return setTimeout(() => 1, 1); }", "ReferenceError"),
        ("function main() { return std.loadFile('/etc/passwd'); }", "ReferenceError"),
        ("function main() { return os.exec(['ls']); }", "ReferenceError"),
        ("function main() { return performance.now(); }", "ReferenceError"),
        ("import * as fs from 'fs';\nfunction main() { return 1; }", "SyntaxError"),
    ] {
        let err = run(source, &json!({}), &limits()).expect_err(source);
        let SandboxError::Script { name, .. } = &err else { panic!("{source}: {err:?}") };
        assert_eq!(name, expected, "{source}: {err:?}");
    }
    // A dynamic import finds no module loader.
    let err =
        run("async function main() { return await import('fs'); }", &json!({}), &limits()).expect_err("no import");
    assert!(matches!(err, SandboxError::Script { .. }), "{err:?}");
}

#[test]
fn errors_carry_the_line() {
    let err = compile("function main(args) {\n  let x = 1;\n  return x +;\n}").expect_err("syntax");
    let SandboxError::Script { name, line, .. } = &err else { panic!("{err:?}") };
    assert_eq!((name.as_str(), *line), ("SyntaxError", Some(3)), "{err:?}");
    let err = compile("let = ;").expect_err("syntax");
    let SandboxError::Script { line, column, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*line, Some(1), "{err:?}");
    assert!(column.is_some_and(|c| c <= 8), "the column is the script's own: {err:?}");
    let err =
        run("function main(args) {\n\n  return args.missing.deep;\n}", &json!({}), &limits()).expect_err("throws");
    let SandboxError::Script { name, line, .. } = &err else { panic!("{err:?}") };
    assert_eq!((name.as_str(), *line), ("TypeError", Some(3)), "{err:?}");
    let err = run("const x = 1;", &json!({}), &limits()).expect_err("no main");
    assert!(matches!(&err, SandboxError::Script { message, .. } if message.contains("main")), "{err:?}");
    compile("function main(args) { return args; }").expect("valid");
}

#[test]
fn compiling_runs_none_of_the_code() {
    // Were the top level run, this would loop until stopped.
    compile("for (;;) {}\nfunction main() { return 1; }").expect("compiles without running");
    compile("console.log(require('fs'));").expect("no ReferenceError: nothing ran");
}

#[test]
fn a_promise_that_never_settles_is_an_error_not_a_hang() {
    let err = run("function main() { return new Promise(() => {}); }", &json!({}), &limits()).expect_err("pending");
    assert!(matches!(&err, SandboxError::Script { message, .. } if message.contains("never settles")), "{err:?}");
}
