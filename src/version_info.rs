//! One report of the configuration a bug report needs, as MPI.jl's `versioninfo()` and
//! `python -m mpi4py --mpi-lib-version` give: [`version_info`].
//!
//! ```
//! let info = mpi4rs::version_info();
//! println!("{info}"); // works with or without MPI initialised
//! assert_eq!(info.mpi4rs, env!("CARGO_PKG_VERSION"));
//! ```
//!
//! `examples/versioninfo.rs` prints it (`cargo run --example versioninfo`).

use crate::config::ThreadLevel;
use mpi4rs_device::SyncPolicy;
use std::fmt;

/// What [`version_info`] found. Fields that could not be had hold the reason as `Err`.
#[derive(Clone, Debug)]
pub struct VersionInfo {
    /// This crate's version.
    pub mpi4rs: &'static str,
    /// The cargo features this build of mpi4rs has.
    pub features: Vec<&'static str>,
    /// The target (architecture, OS).
    pub target: String,
    /// The MPI standard version the library implements (`MPI_Get_version`).
    pub mpi_standard: Result<(i32, i32), String>,
    /// The MPI library's version string (`MPI_Get_library_version`).
    pub mpi_library: Result<String, String>,
    /// Whether the MPI library is taken as CUDA-aware ([`crate::transfer::cuda_aware`]).
    pub cuda_aware: bool,
    /// Why ([`crate::transfer::cuda_aware_source`]): `MPI4RS_CUDA_AWARE` or the MPI query.
    pub cuda_aware_source: &'static str,
    /// The CUDA driver: device count and driver version, or why there is none.
    pub cuda: Result<mpi4rs_device::cuda::CudaInfo, String>,
    /// NVRTC: the library loaded and its version, or why there is none.
    pub nvrtc: Result<(String, (i32, i32)), String>,
    /// The thread level MPI provides (`None` while MPI is not running).
    pub thread_level: Option<ThreadLevel>,
    /// Whether receives that may match a message this process sent to itself are guarded,
    /// because this MPI writes such a message past the end of a smaller receive buffer (then
    /// some are refused: see the guide's "Truncation on Open MPI"); `None` while MPI is not
    /// running.
    pub self_messages_guarded: Option<bool>,
    /// What `init` did to Open MPI's transports before `MPI_Init` (see the guide's "Truncation
    /// on Open MPI"); `None` where it did not run (MPI adopted or not initialised).
    pub open_mpi_transports: Option<String>,
    /// The device synchronisation policy.
    pub sync_policy: SyncPolicy,
    /// Blocking staged reductions/broadcasts from this size are pipelined (0: never).
    pub pipeline_min_bytes: usize,
    /// Chunk size of those pipelines.
    pub pipeline_chunk_bytes: usize,
    /// Most pinned staging memory kept for reuse.
    pub staging_pool_bytes: usize,
    /// Object arrays from this size travel out of band (or why the setting is refused).
    pub object_threshold: Result<usize, String>,
    /// The `MPI4RS_*` library variables set in the environment ([`crate::config::VARIABLES`]).
    pub env: Vec<(&'static str, String)>,
}

/// Gathers the [`VersionInfo`] of this process. It needs no initialised MPI (the thread level
/// is then `None`); loading the CUDA driver and NVRTC is tried (each is loaded once per
/// process anyway).
pub fn version_info() -> VersionInfo {
    let mut features = Vec::new();
    if cfg!(feature = "cuda") {
        features.push("cuda");
    }
    let nvrtc = mpi4rs_device::nvrtc::probe()
        .and_then(|v| Ok((mpi4rs_device::nvrtc::library_path()?.to_string(), v)))
        .map_err(|e| e.to_string());
    VersionInfo {
        mpi4rs: env!("CARGO_PKG_VERSION"),
        features,
        target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        mpi_standard: crate::environment::version().map_err(|e| e.to_string()),
        mpi_library: crate::environment::library_version().map_err(|e| e.to_string()),
        cuda_aware: crate::transfer::cuda_aware(),
        cuda_aware_source: crate::transfer::cuda_aware_source(),
        cuda: mpi4rs_device::cuda::probe().map_err(|e| e.to_string()),
        nvrtc,
        thread_level: crate::environment::query_thread().ok(),
        self_messages_guarded: crate::error::require_active()
            .is_ok()
            .then(crate::runtime::guard_self_receives),
        open_mpi_transports: crate::truncation::preparation(),
        sync_policy: mpi4rs_device::sync_policy(),
        pipeline_min_bytes: crate::transfer::pipeline_min_bytes(),
        pipeline_chunk_bytes: crate::transfer::pipeline_chunk_bytes(),
        staging_pool_bytes: mpi4rs_device::staging::pool_limit(),
        object_threshold: crate::object::threshold().map_err(|e| e.to_string()),
        env: crate::config::vars_set(),
    }
}

/// `bytes` as `4 MiB`, `256 KiB` or `1000 B`.
fn size(bytes: usize) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} B")
}

impl fmt::Display for VersionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_why = |r: &Result<String, String>| match r {
            Ok(s) => s.clone(),
            Err(e) => format!("unknown ({e})"),
        };
        writeln!(f, "mpi4rs {} ({})", self.mpi4rs, self.target)?;
        let features = if self.features.is_empty() { "none".to_string() } else { self.features.join(", ") };
        writeln!(f, "  features:          {features}")?;
        let standard = self.mpi_standard.as_ref().map(|(a, b)| format!("{a}.{b}")).map_err(Clone::clone);
        writeln!(f, "  MPI standard:      {}", or_why(&standard))?;
        // MPICH separates its fields with tabs.
        let library = or_why(&self.mpi_library).replace('\t', " ");
        let mut lines = library.lines().filter(|l| !l.trim().is_empty());
        writeln!(f, "  MPI library:       {}", lines.next().unwrap_or(""))?;
        for l in lines {
            writeln!(f, "                     {}", l.trim())?;
        }
        let aware = if self.cuda_aware { "yes" } else { "no" };
        writeln!(f, "  CUDA-aware MPI:    {aware} (from {})", self.cuda_aware_source)?;
        match &self.cuda {
            Ok(c) => writeln!(
                f,
                "  CUDA driver:       {} device(s), CUDA {}.{}",
                c.devices,
                c.driver_version / 1000,
                c.driver_version % 1000 / 10
            )?,
            Err(e) => writeln!(f, "  CUDA driver:       none ({e})")?,
        }
        match &self.nvrtc {
            Ok((path, (major, minor))) => writeln!(f, "  NVRTC:             {major}.{minor} ({path})")?,
            Err(e) => writeln!(f, "  NVRTC:             none ({e})")?,
        }
        match self.thread_level {
            Some(l) => writeln!(f, "  thread level:      {l:?}")?,
            None => writeln!(f, "  thread level:      MPI not running")?,
        }
        match self.self_messages_guarded {
            Some(false) => writeln!(f, "  self-messages:     truncated safely by MPI")?,
            Some(true) => writeln!(
                f,
                "  self-messages:     guarded (MPI writes a long one past a smaller receive; \
                 receives posted ahead from oneself are refused)"
            )?,
            None => writeln!(f, "  self-messages:     MPI not running")?,
        }
        if let Some(t) = &self.open_mpi_transports {
            writeln!(f, "  transports:        {t}")?;
        }
        writeln!(f, "  device sync:       {:?}", self.sync_policy)?;
        let pipeline = match self.pipeline_min_bytes {
            0 => "off".to_string(),
            min => format!("from {} in chunks of {}", size(min), size(self.pipeline_chunk_bytes)),
        };
        writeln!(f, "  staged pipeline:   {pipeline}")?;
        writeln!(f, "  staging pool:      {}", size(self.staging_pool_bytes))?;
        let threshold = self.object_threshold.as_ref().map(|&b| size(b)).map_err(Clone::clone);
        writeln!(f, "  object threshold:  {}", or_why(&threshold))?;
        if self.env.is_empty() {
            write!(f, "  environment:       no MPI4RS_* variable set")?;
        } else {
            write!(f, "  environment:")?;
            for (name, value) in &self.env {
                write!(f, "\n    {name}={value}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(size(4 << 20), "4 MiB");
        assert_eq!(size(1 << 30), "1 GiB");
        assert_eq!(size(1000), "1000 B");
        assert_eq!(size(0), "0 B");
    }
}
