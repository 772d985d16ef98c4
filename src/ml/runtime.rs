//! ONNX Runtime inside the binary: the shared library is embedded
//! (zstd-compressed), written at start to an anonymous in-memory file and
//! loaded from `/proc/self/fd/N`. Nothing touches the disk, nothing is
//! downloaded. An operator may point `ml.runtime_path` at another build.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use ort::environment::Environment;

/// The embedded runtime library (ONNX Runtime 1.32, MIT), zstd-compressed.
static EMBEDDED_RUNTIME: &[u8] = include_bytes!(env!("BUNDLE_ORT_LIB"));

/// The process-wide environment (ONNX Runtime allows one).
static ENVIRONMENT: OnceLock<Result<Arc<Environment>, String>> = OnceLock::new();
/// Keeps the in-memory library file open for the life of the process.
static LIBRARY_FD: OnceLock<OwnedFd> = OnceLock::new();

/// Loads ONNX Runtime once; later calls return the same environment.
pub fn environment(runtime_path: Option<&Path>) -> anyhow::Result<Arc<Environment>> {
    ENVIRONMENT
        .get_or_init(|| load(runtime_path).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!("ONNX Runtime is unavailable: {e}"))
}

fn load(runtime_path: Option<&Path>) -> anyhow::Result<Arc<Environment>> {
    let builder = if let Some(path) = runtime_path {
        ort::init_from(path).with_context(|| format!("loading ONNX Runtime from {}", path.display()))?
    } else {
        let library = zstd::decode_all(EMBEDDED_RUNTIME).context("decompressing the embedded ONNX Runtime")?;
        let fd = rustix::fs::memfd_create("libonnxruntime.so", rustix::fs::MemfdFlags::CLOEXEC)
            .context("creating an in-memory file for ONNX Runtime")?;
        let mut file = std::fs::File::from(fd);
        file.write_all(&library).context("writing ONNX Runtime to memory")?;
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let builder = ort::init_from(&path).context("loading the embedded ONNX Runtime")?;
        let _ = LIBRARY_FD.set(OwnedFd::from(file));
        builder
    };
    let environment = builder
        .with_name("botbuilder")
        .with_telemetry(false)
        .build()
        .context("creating the ONNX Runtime environment")?;
    Ok(Arc::new(environment))
}
