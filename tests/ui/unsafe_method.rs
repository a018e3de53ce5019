use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async unsafe fn call(&self) -> Result<(), Error>;
}

fn main() {}
