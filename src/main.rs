//! The `botbuilder` command.

use std::process::ExitCode;

fn main() -> ExitCode {
    disable_onnx_runtime_telemetry();
    botbuilder::cli::main()
}

/// ONNX Runtime 1.29 and later upload telemetry from Linux too (1DS, to
/// `mobile.events.data.microsoft.com`, found by the air-gap test);
/// `with_telemetry(false)` only mutes some events. The one full opt-out is
/// `ORT_DISABLE_TELEMETRY=1` in the environment before the runtime starts:
/// no uploader, no device id, no offline cache.
#[allow(unsafe_code, reason = "std::env::set_var is unsafe since edition 2024")]
fn disable_onnx_runtime_telemetry() {
    // SAFETY: the first statement of `main`, before any thread exists, so
    // nothing reads the environment at the same time.
    unsafe { std::env::set_var("ORT_DISABLE_TELEMETRY", "1") };
}
