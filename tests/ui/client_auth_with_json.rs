use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(post = "/a", json, auth = client)]
    async fn call(&self, #[body] body: &str) -> Result<(), Error>;
}

fn main() {}
