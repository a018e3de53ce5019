use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a/{id")]
    async fn call(&self, id: &str) -> Result<(), Error>;
}

fn main() {}
