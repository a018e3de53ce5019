use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self, #[query] #[header("X-A")] a: &str) -> Result<(), Error>;
}

fn main() {}
