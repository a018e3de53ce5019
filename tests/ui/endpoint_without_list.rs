use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
