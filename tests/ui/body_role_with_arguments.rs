use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(post = "/a", json)]
    async fn call(&self, #[body(json)] a: &str) -> Result<(), Error>;
}

fn main() {}
