use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    #[endpoint(get = "/b")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
