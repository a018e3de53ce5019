use fintecture_oauth::api;

#[api]
pub struct Api;

fn main() {}
