use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a", timeout = 15)]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
