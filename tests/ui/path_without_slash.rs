use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "oauth/accesstoken")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
