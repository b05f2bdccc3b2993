//! The bundled simulator.
