use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(post = "/x", form)]
    async fn call(&self, #[body] a: &str, #[body] b: &str) -> Result<(), Error>;
}

fn main() {}
