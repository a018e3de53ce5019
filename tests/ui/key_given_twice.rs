use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a", timeout = "1s", timeout = "2s")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
