use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(path = "/a")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
