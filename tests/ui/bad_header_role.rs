use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self, #[header] a: &str) -> Result<(), Error>;
}

fn main() {}
