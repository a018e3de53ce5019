use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(post = "/a")]
    async fn call(&self, #[body] body: &str) -> Result<(), Error>;
}

fn main() {}
