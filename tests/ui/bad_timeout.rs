use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a", timeout = "30 seconds")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
