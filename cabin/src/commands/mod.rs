pub mod assistant;
pub mod config;
pub mod install;
pub mod llm;
pub mod models;
pub mod phone;
pub mod serve;
pub mod signals;
pub mod sim;
pub mod up;
pub mod vision;
pub mod voice;

use cabin_vehicle_config::{embedded_catalog, embedded_overlay, ConfigErrors, Source, VehicleConfig};

use crate::ConfigArgs;

/// Loads catalog and overlays as `ConfigArgs` names them, the embedded defaults standing in for
/// what is not given.
pub fn load_config(args: &ConfigArgs) -> Result<VehicleConfig, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let catalog = match &args.catalog {
        Some(path) => Source::read(path).unwrap_or_else(|e| {
            errors.push(e);
            Source::new(path.display().to_string(), "{}")
        }),
        None => embedded_catalog(),
    };
    let overlays: Vec<Source> = if args.overlays.is_empty() {
        vec![embedded_overlay()]
    } else {
        args.overlays.iter().filter_map(|path| Source::read(path).map_err(|e| errors.push(e)).ok()).collect()
    };
    match VehicleConfig::load(&catalog, &overlays) {
        Ok(config) if errors.is_empty() => Ok(config),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}
