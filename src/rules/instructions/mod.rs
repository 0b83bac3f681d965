//! Instructions written the way BuildKit reads them best (DF0xx).

pub mod add_to_copy;
pub mod exec_form;
