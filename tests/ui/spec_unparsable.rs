use fintecture_oauth::{Error, api};

#[api(spec = "spec/broken.yaml")]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
