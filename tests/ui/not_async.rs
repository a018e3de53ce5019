use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/x")]
    fn call(&self) -> Result<(), Error>;
}

fn main() {}
