use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(method = "POST")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
